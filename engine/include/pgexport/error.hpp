#pragma once
// Expected failures of the engine's API, as values: a code for programs and a message for people.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgexport::engine {

enum class errc {
    invalid_request, // malformed request: wrong JSON types, unknown fields, bad encoding
    unknown_column,  // a column or filter names a column the table does not have
    unknown_operator,
    invalid_value, // a filter value that does not parse as its column's type
    not_found,     // no such job
    conflict,      // the job is not in a state that allows the operation
    unavailable,   // the database cannot be reached right now
    too_busy,      // the queue of waiting jobs is full; try again later
    too_many_jobs, // the caller has as many queued and running jobs as its quota allows
    insufficient_storage, // the data directory's file system has less free space than the guard wants
    file_missing,  // a completed job's file is no longer where its record says
    other_storage, // the job's files are in another storage (data directory or bucket) than this instance's
};

// The snake_case name of a code, as the HTTP API reports it (e.g. "invalid_value").
std::string_view to_string(errc code);

template <class Stream> Stream& operator<<(Stream& out, errc code) {
    out << to_string(code);
    return out;
}

struct problem {
    errc code;
    std::string message;
};

template <class T> using result = boost::system::result<T, problem>;

// Lets result<T>::value() throw when it holds a problem.
class problem_error : public std::runtime_error {
public:
    explicit problem_error(problem p) : std::runtime_error(p.message), problem_(std::move(p)) {}
    const problem& get() const noexcept { return problem_; }

private:
    problem problem_;
};

// The database cannot be reached right now (connection refused or lost, server restarting). Thrown by
// engine calls that need the job store; a later call may succeed.
class unavailable_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_exception_from_error(const problem& p, const boost::source_location&) {
    throw problem_error(p);
}

} // namespace pgexport::engine
