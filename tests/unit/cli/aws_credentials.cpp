// Object storage credentials from the environment or the AWS CLI's credentials file. No I/O but a
// temporary file.

#include "aws_credentials.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace pgexport::cli;

namespace {

const char* file_text = R"(# the AWS CLI's file
[default]
aws_access_key_id = AKIDEFAULT
aws_secret_access_key=secret/default

[ci]
; temporary credentials
aws_access_key_id  =  AKIDCI
aws_secret_access_key = secret-ci
aws_session_token = token+ci/==
region = eu-west-1

[half]
aws_access_key_id = AKIDHALF
)";

auto environment(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

} // namespace

BOOST_AUTO_TEST_CASE(profiles_of_the_file) {
    auto d = parse_aws_credentials(file_text, "default");
    BOOST_TEST_REQUIRE(d.has_value());
    BOOST_TEST(d->access_key == "AKIDEFAULT");
    BOOST_TEST(d->secret_key == "secret/default");
    BOOST_TEST(d->session_token.empty());
    auto ci = parse_aws_credentials(file_text, "ci");
    BOOST_TEST_REQUIRE(ci.has_value());
    BOOST_TEST(ci->access_key == "AKIDCI");
    BOOST_TEST(ci->session_token == "token+ci/==");
    BOOST_TEST(!parse_aws_credentials(file_text, "half").has_value()); // no secret
    BOOST_TEST(!parse_aws_credentials(file_text, "nope").has_value());
    BOOST_TEST(!parse_aws_credentials("aws_access_key_id = x\naws_secret_access_key = y\n", "default").has_value());
}

BOOST_AUTO_TEST_CASE(the_environment_first_then_the_file) {
    auto env = find_aws_credentials(environment(
        {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "s"}, {"AWS_SESSION_TOKEN", "t"}}));
    BOOST_TEST_REQUIRE(env.has_value());
    BOOST_TEST(env->access_key == "AKIDENV");
    BOOST_TEST(env->session_token == "t");

    const std::string path = "/tmp/pgexport-unit-aws-credentials-" + std::to_string(::getpid());
    std::ofstream(path) << file_text;
    auto file = find_aws_credentials(environment({{"AWS_SHARED_CREDENTIALS_FILE", path}, {"AWS_PROFILE", "ci"}}));
    BOOST_TEST_REQUIRE(file.has_value());
    BOOST_TEST(file->access_key == "AKIDCI");
    auto fallback = find_aws_credentials(environment({{"AWS_SHARED_CREDENTIALS_FILE", path}}));
    BOOST_TEST_REQUIRE(fallback.has_value());
    BOOST_TEST(fallback->access_key == "AKIDEFAULT");
    std::remove(path.c_str());
    BOOST_TEST(!find_aws_credentials(environment({{"AWS_SHARED_CREDENTIALS_FILE", path}})).has_value());
}
