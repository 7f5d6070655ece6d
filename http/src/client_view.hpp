#pragma once
// What a client may see of the server's insides in a job's fields. Pure: no I/O.
//
// A job's filePath, error and waiting are written by the engine for the operator: absolute paths of the
// data directory, the object store's endpoint, the database's host. A client is shown the file's name
// (or its s3:// URL) and the messages with those parts taken out; the log keeps them whole.

#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

struct client_view {
    // Texts never shown, longest first: the data directory as configured and as an absolute path (each
    // ending in '/', so that a file in it keeps its name), the object store's endpoint.
    std::vector<std::pair<std::string, std::string>> replacements;
};

// The replacements of a server with `data_dir` and, with object storage, `storage_endpoint` (empty:
// none).
client_view make_client_view(const std::string& data_dir, const std::string& storage_endpoint);

// filePath as a client sees it: an s3:// URL as it is, a local path by its name in the data directory.
std::string shown_file_path(std::string_view file_path);

// `text` (an error or a waiting reason) with the view's replacements made, and libpq's "connection to
// server at "HOST" (ADDRESS), port N failed" (or "on socket "PATH"") said without the host.
std::string shown_message(std::string_view text, const client_view& view);

} // namespace pgexport::http
