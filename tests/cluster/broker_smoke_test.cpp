/// Proves the test command's private RabbitMQ broker is up and speaks AMQP
/// through rabbitmq-c: the ground the cluster tests stand on.

#include <cstdlib>
#include <string>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(broker)

BOOST_AUTO_TEST_CASE(publish_and_get_round_trip) {
  const char* url_env = std::getenv("RAPI_AMQP_URL");
  BOOST_REQUIRE_MESSAGE(url_env != nullptr,
                        "RAPI_AMQP_URL is not set: run the suite through "
                        "scripts/test.sh, which starts the broker");
  std::string url = url_env;
  amqp_connection_info info;
  BOOST_REQUIRE(amqp_parse_url(url.data(), &info) == AMQP_STATUS_OK);
  auto conn = amqp_new_connection();
  auto* sock = amqp_tcp_socket_new(conn);
  BOOST_REQUIRE(sock != nullptr);
  BOOST_REQUIRE(amqp_socket_open(sock, info.host, info.port) == AMQP_STATUS_OK);
  auto login = amqp_login(conn, info.vhost, 0, 131072, 0,
                          AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  BOOST_REQUIRE(login.reply_type == AMQP_RESPONSE_NORMAL);
  amqp_channel_open(conn, 1);
  BOOST_REQUIRE(amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL);
  auto q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1,
                              amqp_empty_table);
  BOOST_REQUIRE(q != nullptr);
  amqp_bytes_t queue = amqp_bytes_malloc_dup(q->queue);
  amqp_basic_properties_t props{};
  BOOST_REQUIRE(amqp_basic_publish(conn, 1, amqp_empty_bytes, queue, 0, 0,
                                   &props, amqp_cstring_bytes("hello"))
                == AMQP_STATUS_OK);
  // basic.get until the message is there (delivery is asynchronous).
  bool got = false;
  for (int i = 0; i < 200 && !got; ++i) {
    auto reply = amqp_basic_get(conn, 1, queue, 1);
    BOOST_REQUIRE(reply.reply_type == AMQP_RESPONSE_NORMAL);
    if (reply.reply.id == AMQP_BASIC_GET_OK_METHOD) {
      amqp_message_t msg;
      BOOST_REQUIRE(amqp_read_message(conn, 1, &msg, 0).reply_type
                    == AMQP_RESPONSE_NORMAL);
      std::string body(static_cast<char*>(msg.body.bytes), msg.body.len);
      BOOST_TEST(body == "hello");
      amqp_destroy_message(&msg);
      got = true;
    }
  }
  BOOST_TEST(got);
  amqp_bytes_free(queue);
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

BOOST_AUTO_TEST_SUITE_END()
