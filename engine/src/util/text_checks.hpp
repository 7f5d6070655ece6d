#pragma once
// What a request's text must be before it reaches SQL, and the error a request gets when it is not.

#include <pgexport/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// An invalid_request problem with `message`.
problem invalid(std::string message);

// nullopt when `text` can reach PostgreSQL as text: no NUL character, valid UTF-8; else the problem,
// naming the text as `what`.
std::optional<problem> check_text(std::string_view text, std::string_view what);

// A job id as the canonical lower-case UUID text, or nullopt when `id` is not a UUID.
std::optional<std::string> normalize_job_id(std::string_view id);

} // namespace pgexport::engine::detail
