#define BOOST_TEST_MODULE recording_api_cluster
#include <boost/test/unit_test.hpp>
