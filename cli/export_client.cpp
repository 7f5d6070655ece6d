#include "export_client.hpp"

#include "download_files.hpp"
#include "http_client.hpp"
#include "interrupt.hpp"
#include "progress_display.hpp"
#include "sse_parser.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <unistd.h>

namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace pgexport::cli {

namespace {

std::string error_message(unsigned status, const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object())
        if (auto* e = v.get_object().if_contains("error"); e && e->is_object())
            if (auto* m = e->get_object().if_contains("message"); m && m->is_string())
                return std::string(m->get_string()) + " (HTTP " + std::to_string(status) + ")";
    return "the server answered HTTP " + std::to_string(status);
}

std::string json_request(const export_client_params& p) {
    json::object body;
    if (p.filters_json) {
        boost::system::error_code ec;
        json::value filters = json::parse(*p.filters_json, ec);
        if (ec)
            throw client_error("--filters is not valid JSON (" + ec.message() + "): " + *p.filters_json, 2);
        if (!filters.is_object())
            throw client_error("--filters must be a JSON object, e.g. '{\"category\": \"books\"}'", 2);
        body["filters"] = std::move(filters);
    }
    if (p.columns) {
        json::array columns;
        std::string_view rest = *p.columns;
        for (;;) {
            auto comma = rest.find(',');
            auto name = rest.substr(0, comma);
            while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front())))
                name.remove_prefix(1);
            while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())))
                name.remove_suffix(1);
            if (name.empty())
                throw client_error("--columns has an empty name: \"" + *p.columns + "\"", 2);
            columns.emplace_back(name);
            if (comma == std::string_view::npos)
                break;
            rest = rest.substr(comma + 1);
        }
        body["columns"] = std::move(columns);
    }
    if (p.format)
        body["format"] = *p.format; // the server checks the values, and says what is allowed
    if (p.compression)
        body["compression"] = *p.compression;
    if (p.consistency)
        body["consistency"] = *p.consistency;
    // The objects of options, checked by the server.
    auto options = [&body](const std::optional<std::string>& text, const char* name, const char* example) {
        if (!text)
            return;
        boost::system::error_code ec;
        json::value value = json::parse(*text, ec);
        if (ec)
            throw client_error(std::string("--") + name + " is not valid JSON (" + ec.message() + "): " + *text, 2);
        if (!value.is_object())
            throw client_error(std::string("--") + name + " must be a JSON object, e.g. '" + example + "'", 2);
        body[name] = std::move(value);
    };
    options(p.csv_json, "csv", "{\"delimiter\": \";\", \"bom\": true}");
    options(p.parquet_json, "parquet", "{\"compression\": \"snappy\", \"rowGroupRows\": 50000}");
    return json::serialize(body);
}

// The command that attaches to the job again, with the flags that matter to where it goes.
std::string attach_command(const export_client_params& p, const std::string& job_id) {
    std::string command = "pgexport export --job " + job_id;
    if (p.server != export_client_params{}.server)
        command += " --server " + p.server;
    if (p.output)
        command += " --output " + *p.output;
    return command;
}

// The job's status as the server reports it ("completed", …), or nullopt when it cannot be read.
std::optional<std::string> job_state(http_client& client, const std::string& job_id) {
    auto [status, body] = client.call(bhttp::verb::get, "/api/export/" + job_id + "/status");
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (status == 200 && !ec && v.is_object())
        if (auto* s = v.get_object().if_contains("status"); s && s->is_string())
            return std::string(s->get_string());
    return std::nullopt;
}

// Ctrl-C while the job runs: leave it running, or with --cancel-on-interrupt cancel it and say what
// the server answered (the job may have ended in the meantime). Returns the exit code.
int on_interrupt(http_client& client, const export_client_params& p, const std::string& job_id,
                 const std::string& attach_hint, progress_display& display) {
    if (!p.cancel_on_interrupt) {
        display.say("interrupted: job " + job_id + " keeps running; attach again with: " + attach_hint);
        return 130;
    }
    auto already_ended = [&](const std::string& state) {
        std::string text = "interrupted: job " + job_id + " had already " + state + ", nothing was cancelled";
        if (state == "completed")
            text += "; download it with: " + attach_hint;
        display.say(text);
        return 130;
    };
    // DELETE of an ended job deletes it: look first, so that a job that has just completed keeps its file.
    if (auto state = job_state(client, job_id); state && *state != "queued" && *state != "running")
        return already_ended(*state);
    auto [status, body] = client.call(bhttp::verb::delete_, "/api/export/" + job_id);
    if (status == 200) {
        display.say("interrupted: job " + job_id + " cancelled");
        return 130;
    }
    if (status == 204) {
        display.say("interrupted: job " + job_id + " ended just before the cancel arrived, and was deleted");
        return 130;
    }
    if (status == 409) // a server that refuses to delete ended jobs
        return already_ended(job_state(client, job_id).value_or("ended"));
    throw client_error("interrupted, but the job could not be cancelled: " + error_message(status, body) +
                       "; it may still be running (cancel it with DELETE /api/export/" + job_id + ")");
}

// Downloads the job's file into `target` from byte `offset` (Range when > 0, with If-Range when `etag`
// is strong), keeping the part's record true to what it holds (download_resume.hpp); a 200 answer starts
// the part over. A redirect (object storage) is followed without the API key. Throws client_error: a
// network error mid-way keeps what was written (and its record); a 206 that does not start at `offset`
// or names another ETag empties the part.
void download(http_client& client, const std::string& job_id, const partial_download& target,
              std::uint64_t offset, const std::optional<std::string>& etag, std::uint64_t expected,
              progress_display& display) {
    header_list headers;
    if (offset > 0) {
        headers.emplace_back(bhttp::field::range, "bytes=" + std::to_string(offset) + "-");
        // The server sends the whole file instead when it is not the one the part came from.
        if (etag && is_strong_etag(*etag))
            headers.emplace_back(bhttp::field::if_range, *etag);
    }
    auto res = client.get("/api/export/" + job_id + "/download", headers);
    const unsigned status = res->status();
    const std::optional<std::string> answer_etag = res->header(bhttp::field::etag);
    if (status == 206) {
        const std::string header = res->header(bhttp::field::content_range).value_or("");
        const auto range = parse_content_range(header);
        std::string wrong;
        if (!range || range->first != offset)
            wrong = "the server's Content-Range \"" + header + "\" does not start at byte " + std::to_string(offset) +
                    ", where " + target.part().string() + " ends";
        else if (etag && answer_etag && *etag != *answer_etag)
            wrong = "the server's file changed (ETag " + *answer_etag + ", not " + *etag + ")";
        if (!wrong.empty()) {
            // Never append bytes from elsewhere: the next attempt starts from an empty part.
            target.discard();
            throw client_error(wrong + "; starting over");
        }
    } else if (status == 200) {
        if (offset > 0)
            display.say("the server sent the whole file instead of the rest (it no longer matches " +
                        target.part().string() + "); starting over");
        offset = 0;
    } else if (status == 416) {
        target.discard();
        throw client_error("the server has no bytes after " + std::to_string(offset) + " for " +
                           target.part().string() + "; starting over");
    } else {
        // An error body is small JSON: read it for the message.
        const std::string body = status >= 400 ? res->read_body(64 * 1024) : "";
        throw client_error("download failed: " + error_message(status, body));
    }
    const unique_fd out = target.open_part(offset);
    // Now the part is empty or holds this job's first `offset` bytes: record that, with the ETag.
    if (offset == 0 || (answer_etag && answer_etag != etag))
        target.write_record(answer_etag);
    std::uint64_t have = offset;
    std::vector<char> chunk(1 << 20);
    for (;;) {
        if (interrupted())
            throw client_error("interrupted", 130);
        const std::size_t n = res->read_some(chunk.data(), chunk.size());
        if (n == 0)
            break;
        if (const int error = write_all(out.get(), std::string_view(chunk.data(), n)))
            throw client_error("cannot write " + target.part().string() + ": " + std::strerror(error));
        have += n;
        display.download(have, expected);
    }
}

// Follows the job until it ends: its events when the server has them, else (or once they break) its
// status every 300 ms. Returns its last status once completed; throws client_error when it ended
// otherwise; nullopt after Ctrl-C (`exit_code` then says what on_interrupt answered).
std::optional<json::object> follow_job(http_client& client, const export_client_params& p, const std::string& job_id,
                                       progress_display& display, int& exit_code) {
    json::object job;
    // Shows one status of the job; true once it has completed. Throws when it ended otherwise.
    auto show = [&](json::object status) {
        job = std::move(status);
        const std::string state(job.at("status").as_string());
        const long long rows = job.at("rowsExported").to_number<long long>();
        const long long estimate =
            job.at("totalRowsEstimate").is_null() ? 0 : job.at("totalRowsEstimate").to_number<long long>();
        display.job(state, rows, estimate);
        if (state == "completed")
            return true;
        if (state != "queued" && state != "running") { // failed, cancelled, expired, or a later server's end
            display.end_line();
            std::string why = job.at("error").is_string() ? ": " + std::string(job.at("error").as_string()) : "";
            if (state == "expired")
                why = ": its file was deleted when the server's retention passed; create a new export";
            throw client_error("export " + job_id + " " + state + why);
        }
        return false;
    };
    bool done = false;
    client.follow_events("/api/export/" + job_id + "/events", [&](const sse_message& m) {
        boost::system::error_code ec;
        json::value v = json::parse(m.data, ec);
        if (ec || !v.is_object() || !v.get_object().contains("status"))
            return true; // not a status: skip it
        done = show(std::move(v.get_object()));
        return !done;
    });
    while (!done) {
        if (interrupted()) {
            display.end_line();
            exit_code = on_interrupt(client, p, job_id, attach_command(p, job_id), display);
            return std::nullopt;
        }
        auto [status, body] = client.call(bhttp::verb::get, "/api/export/" + job_id + "/status");
        if (status != 200)
            throw client_error("cannot read the job's status: " + error_message(status, body));
        if (interrupted())
            continue; // the answer may be stale by now: the interruption decides
        done = show(json::parse(body).as_object());
        if (!done)
            interruptible_sleep(std::chrono::milliseconds(300));
    }
    display.end_line();
    return job;
}

// Downloads the completed `job` to `output`: to its part first, resuming a part this job left after a
// broken connection (download_resume.hpp), then the part takes the output's name.
void save(http_client& client, const export_client_params& p, const std::string& job_id, const json::object& job,
          const fs::path& output, progress_display& display) {
    const partial_download target(output, job_id);
    const std::uint64_t expected = job.at("bytesWritten").to_number<std::uint64_t>();
    int failures = 0;
    for (;;) {
        auto found = target.inspect_part();
        if (!found.foreign.empty()) {
            display.say("not resuming " + target.part().string() + ": " + found.foreign + "; starting over");
            target.discard();
            found = {};
        }
        const auto record = target.read_record();
        const resume_plan plan = plan_resume(record, job_id, found.size, expected);
        if (!plan.reason.empty()) {
            display.say("not resuming " + target.part().string() + ": " + plan.reason + "; starting over");
            target.discard();
        }
        if (plan.offset > 0 && plan.offset == expected)
            break; // an earlier run got every byte and stopped before the rename
        if (plan.offset > 0)
            display.say("resuming " + target.part().string() + " at byte " +
                        with_commas(static_cast<long long>(plan.offset)));
        try {
            download(client, job_id, target, plan.offset, record ? record->etag : std::nullopt, expected, display);
            break;
        } catch (const client_error& e) {
            if (e.code == 130 || ++failures > 5)
                throw;
            display.say(std::string(e.what()) + "; retrying");
            interruptible_sleep(std::chrono::milliseconds(200 << failures));
        }
    }
    display.end_line();
    const std::uint64_t got = target.inspect_part().size.value_or(0);
    if (got != expected)
        throw client_error("the download has " + std::to_string(got) + " bytes, the export " +
                           std::to_string(expected) + "; run the command again to resume");
    publish(target.part(), output, p.force);
    ::unlink(target.record_path().c_str());
    display.say("saved " + with_commas(static_cast<long long>(got)) + " bytes, " +
                with_commas(job.at("rowsExported").to_number<long long>()) + " rows");
}

} // namespace

std::string default_output_name(const std::string& job_id, const std::string& status_json) {
    std::string name = "export-" + job_id;
    boost::system::error_code ec;
    const json::value status = json::parse(status_json, ec);
    const json::object* request = nullptr;
    if (!ec && status.is_object())
        if (const json::value* r = status.as_object().if_contains("request"); r && r->is_object())
            request = &r->as_object();
    auto field_is = [&](std::string_view field, std::string_view value) {
        const json::value* v = request ? request->if_contains(field) : nullptr;
        return v && v->is_string() && v->as_string() == value;
    };
    name += field_is("format", "jsonl") ? ".jsonl" : field_is("format", "parquet") ? ".parquet" : ".csv";
    if (field_is("compression", "gzip"))
        name += ".gz";
    return name;
}

int run_export_client(const export_client_params& p) {
    install_interrupt_handlers();
    progress_display display(p.quiet, ::isatty(STDERR_FILENO) != 0);
    std::string job_id;
    try {
        const auto server = parse_http_url(p.server);
        if (!server)
            throw client_error("--server must be an http:// or https:// URL (an IPv6 address in brackets: "
                               "http://[::1]:8080), not \"" + p.server + "\"",
                               2);
        http_client client(*server, p.api_key);
        // Where the file goes must be writable, and free, before the export runs, not found out after it.
        if (p.output) {
            const fs::path dir = fs::path(*p.output).parent_path();
            if (::access(dir.empty() ? "." : dir.c_str(), W_OK | X_OK) != 0)
                throw client_error("cannot write to the directory of --output " + *p.output + ": " +
                                       std::strerror(errno),
                                   2);
            if (auto refused = refuse_existing_output(*p.output, p.force))
                throw client_error(*refused, 2);
        }
        if (p.job_id) {
            job_id = *p.job_id;
        } else {
            auto [status, body] = client.call(bhttp::verb::post, "/api/export", json_request(p));
            if (status != 202)
                throw client_error("the server refused the export: " + error_message(status, body));
            job_id = std::string(json::parse(body).at("jobId").as_string());
            display.say("export " + job_id + " created");
        }
        int exit_code = 0;
        const auto job = follow_job(client, p, job_id, display, exit_code);
        if (!job)
            return exit_code;
        const fs::path output =
            p.output ? fs::path(*p.output) : fs::path(default_output_name(job_id, json::serialize(*job)));
        if (!p.output)
            if (auto refused = refuse_existing_output(output, p.force))
                throw client_error(*refused, 2);
        save(client, p, job_id, *job, output, display);
        std::cout << output.string() << "\n";
        return 0;
    } catch (const client_error& e) {
        display.end_line();
        if (e.code == 130) {
            std::cerr << "\ninterrupted";
            if (!job_id.empty())
                std::cerr << "; the partial download is kept and resumes with: " << attach_command(p, job_id);
            std::cerr << "\n";
        } else {
            std::cerr << "pgexport export: " << e.what() << "\n";
        }
        return e.code;
    } catch (const std::exception& e) {
        display.end_line();
        std::cerr << "pgexport export: " << e.what() << "\n";
        return 1;
    }
}

} // namespace pgexport::cli
