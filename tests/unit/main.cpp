#define BOOST_TEST_MODULE recording_api_unit
#include <boost/test/unit_test.hpp>
