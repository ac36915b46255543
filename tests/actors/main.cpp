#define BOOST_TEST_MODULE recording_api_actors
#include <boost/test/unit_test.hpp>
