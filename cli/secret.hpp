#pragma once
// The server's secret (--secret-file): the HMAC key of signed download links and owner names, shared by
// every instance through the data directory. And the API keys of --api-key-file.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::cli {

// Fewer bytes than this are refused: an HMAC-SHA256 key should be as long as the hash.
inline constexpr std::size_t min_secret_bytes = 32;

// Reads the secret at `path`; when there is no file there, creates one of 32 random bytes with mode
// 0600 (and its directory, mode 0700, when missing). Creation is atomic: the bytes go to a temporary
// file that is then link(2)ed to `path`, so of several instances starting together one wins and all
// use its secret. Returns the file's bytes as they are. Throws std::runtime_error, with a message for
// a person, when the file is readable or writable by group or others, is not a regular file, holds
// fewer than min_secret_bytes bytes, or cannot be read or created.
// `make`, when given, makes a new secret's bytes instead (a webhook secret is text: "whsec_…").
std::string load_or_create_secret(const std::filesystem::path& path,
                                  const std::function<std::string()>& make = {});

// The keys of a key file's text: one a line; surrounding blanks (and a CR) are trimmed; blank lines
// and lines starting with '#' are skipped.
std::vector<std::string> parse_api_keys(std::string_view text);

// parse_api_keys of the file at `path`. Throws std::runtime_error when it cannot be read, is open to
// other users (any permission bit for others: keys are passwords) or names no key (an empty key file must
// not leave the API open).
std::vector<std::string> read_api_key_file(const std::filesystem::path& path);

} // namespace pgexport::cli
