#define BOOST_TEST_MODULE recording_api_integration
#include <boost/test/unit_test.hpp>
