// pgexport: the command line. Each command reads its options, then hands over to the engine or the server.

#include "aws_credentials.hpp"
#include "descriptors.hpp"
#include "export_client.hpp"
#include "options.hpp"
#include "secret.hpp"
#include "seed.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/http/server.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>
#include <pgexport/version.hpp>
#include <pgexport/webhooks.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>

namespace asio = boost::asio;
using pgexport::cli::option_spec;
using pgexport::cli::options;

namespace {

std::optional<std::string> from_env(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
}

const option_spec database_option{"database", "URL", "PostgreSQL connection URL", "", "DATABASE_URL"};

std::string required(const options& o, const std::string& name) {
    auto v = o.get(name);
    if (!v)
        throw std::invalid_argument("--" + name + " is required");
    return *v;
}

const std::vector<option_spec> serve_specs = {
    {"listen", "HOST:PORT", "address to serve HTTP on", "127.0.0.1:8080", "PGEXPORT_LISTEN"},
    database_option,
    {"data-dir", "DIR", "where export files are written", "./var/exports", "PGEXPORT_DATA_DIR"},
    {"max-concurrent", "N", "exports this instance runs at once; others wait in FIFO order", "2",
     "PGEXPORT_MAX_CONCURRENT"},
    {"max-parallelism", "N", "connections one export may use at once (its request's \"parallelism\", 1 to 16, "
     "is lowered to N); the instance holds at most max-concurrent x N export connections", "4",
     "PGEXPORT_MAX_PARALLELISM"},
    {"min-slice-rows", "N", "an export gets no more slices than leave each about N rows by the planner's estimate "
     "(a smaller selection runs as one slice: a slice costs a connection, a file and a join); 0 or 1: always as "
     "many as asked", "10000", "PGEXPORT_MIN_SLICE_ROWS"},
    {"instance-id", "NAME", "this instance's name in job leases", "host:pid", "PGEXPORT_INSTANCE_ID"},
    {"lease", "DURATION", "a job whose instance stops renewing is taken over after this", "15s",
     "PGEXPORT_LEASE"},
    {"chunk-rows", "N", "rows per COPY statement", "10000", "PGEXPORT_CHUNK_ROWS"},
    {"parquet-row-group-bytes", "SIZE", "a Parquet row group ends once its compressed pages reach this, 1MiB to "
     "1GiB (bounds a Parquet job's memory; instances sharing a database should share it)", "32MiB",
     "PGEXPORT_PARQUET_ROW_GROUP_BYTES"},
    {"shutdown-grace", "DURATION", "on SIGTERM, how long requests in flight (downloads, event streams) may take "
     "to finish before their connections are closed", "30s", "PGEXPORT_SHUTDOWN_GRACE"},
    {"max-queued", "N", "exports waiting at most; more get 429", "10000", "PGEXPORT_MAX_QUEUED"},
    {"max-jobs-per-key", "N",
     "queued plus running exports per API key (per client address without keys); more get 429; 0: no limit", "20",
     "PGEXPORT_MAX_JOBS_PER_KEY"},
    {"max-request-bytes-per-key", "SIZE", "stored export requests (their JSON, jobs in every state until the "
     "retention removes them) per API key (per client address without keys); more get 429; 0: no limit", "16MiB",
     "PGEXPORT_MAX_REQUEST_BYTES_PER_KEY"},
    {"records-connections", "N", "database connections of GET /api/records (listings), apart from the one that "
     "creating an export uses", "2", "PGEXPORT_RECORDS_CONNECTIONS"},
    {"records-timeout", "DURATION", "the longest a listing's statement may run; past it the listing gets 503",
     "5s", "PGEXPORT_RECORDS_TIMEOUT"},
    {"records-queue", "N", "listings that may wait for a connection; one more gets 503 with Retry-After", "16",
     "PGEXPORT_RECORDS_QUEUE"},
    {"min-free-disk", "SIZE",
     "while the data directory's file system has less free space, new exports get 507 and running ones wait;"
     " 0: no guard",
     "1GiB", "PGEXPORT_MIN_FREE_DISK"},
    {"table", "NAME[:KEY]", "table or view to export (repeatable; a request's \"table\" picks one, the first by default)",
     "records", "PGEXPORT_TABLE", true},
    {"key", "COLUMN", "unique, increasing integer column to walk the table by", "id", "PGEXPORT_KEY"},
    {"random-page-cost", "N|server", "random_page_cost of the chunk statements, when below the server's (lets "
     "a (filter, key) index serve filtered chunks)", "1.1", "PGEXPORT_RANDOM_PAGE_COST"},
    {"warm-session-idle", "DURATION", "a job's COPY sessions wait this long, idle, for the next job to reuse "
     "them (a new backend first pays for mapping shared memory); 0: closed with each job", "30s",
     "PGEXPORT_WARM_SESSION_IDLE"},
    {"api-key", "KEY", "require Authorization: Bearer KEY on /api/ (on a command line every user sees it in ps: "
     "prefer --api-key-file)", "", "PGEXPORT_API_KEYS", true},
    {"no-auth", "", "serve the API without keys on an address other than loopback (something in front "
     "authenticates); without it serve refuses to, and refuses proxied requests when it has no keys", "",
     "PGEXPORT_NO_AUTH"},
    {"max-connections", "N", "open HTTP connections at most (default: sized from the descriptor limit); past "
     "it the longest-idle one is closed for a new client", "", "PGEXPORT_MAX_CONNECTIONS"},
    {"allowed-host", "NAME", "a Host name to serve besides the listen address, localhost and 127.0.0.1 "
     "(repeatable; * serves any Host, and allows no more origins)", "", "PGEXPORT_ALLOWED_HOSTS", true},
    {"allowed-origin", "URL", "an origin (scheme://host[:port]) whose pages may change state here besides the "
     "server's own, e.g. https://exports.example.org behind a TLS proxy (repeatable)", "",
     "PGEXPORT_ALLOWED_ORIGINS", true},
    {"trusted-proxy", "CIDR", "a reverse proxy (address or network) whose X-Forwarded-For names the client: "
     "quotas, stream caps and the log go by the last address in it that is not a trusted proxy (repeatable)",
     "", "PGEXPORT_TRUSTED_PROXIES", true},
    {"max-streams-per-client", "N", "event streams open at once per API key (per client address without keys); "
     "one more gets 429", "16", "PGEXPORT_MAX_STREAMS_PER_CLIENT"},
    {"api-key-file", "FILE", "API keys as --api-key, one a line (blank lines and # comments skipped)", "",
     "PGEXPORT_API_KEY_FILE", true},
    {"secret-file", "FILE",
     "HMAC key of signed download links and job owners, shared by all instances; created (0600) when absent",
     "<data-dir>/secret", "PGEXPORT_SECRET_FILE"},
    {"webhook-secret-file", "FILE", "the whsec_ secret that signs notifications (Standard Webhooks), shared by "
     "all instances; created (0600) when absent", "<beside --secret-file>/webhook-secret",
     "PGEXPORT_WEBHOOK_SECRET_FILE"},
    {"webhook-allow", "HOST", "a notification host allowed although it resolves to a loopback, private or "
     "link-local address (repeatable; as written in the URL)", "", "PGEXPORT_WEBHOOK_ALLOW", true},
    {"webhook-retry-for", "DURATION", "how long a notification is tried again after its event while the "
     "receiver does not answer 2xx", "24h", "PGEXPORT_WEBHOOK_RETRY_FOR"},
    {"link-ttl", "DURATION", "how long status's signed downloadUrl works (with API keys)", "1h",
     "PGEXPORT_LINK_TTL"},
    {"retention", "DURATION",
     "a completed file is deleted this long after it finished (the job becomes expired); failed and "
     "cancelled jobs are forgotten after it too",
     "7d", "PGEXPORT_RETENTION"},
    {"max-snapshot-age", "DURATION", "a snapshot-consistent job (\"consistency\": \"snapshot\") whose snapshot "
     "has been held this long fails with code snapshot_too_old: a held snapshot holds back vacuum on the whole "
     "cluster", "6h", "PGEXPORT_MAX_SNAPSHOT_AGE"},
    {"max-rate", "SIZE", "bytes a second per job, counted on the file written, such as 5MiB (no limit when "
     "absent)", "", "PGEXPORT_MAX_RATE"},
    {"gentle", "", "yield to the database's other work: pause between chunks while it is busy", "",
     "PGEXPORT_GENTLE"},
    {"gentle-max-sessions", "N", "--gentle: busy while more than N other sessions are at work, on average", "1",
     "PGEXPORT_GENTLE_MAX_SESSIONS"},
    {"gentle-max-slowdown", "X", "--gentle: busy too while a chunk takes X times the job's fastest per row "
     "(0: off)", "3", "PGEXPORT_GENTLE_MAX_SLOWDOWN"},
    {"gentle-min-share", "PERCENT", "--gentle: share of the time an export still runs while the database "
     "stays busy", "10", "PGEXPORT_GENTLE_MIN_SHARE"},
    {"gentle-interval", "DURATION", "--gentle: how often the load is sampled during a pause", "200ms",
     "PGEXPORT_GENTLE_INTERVAL"},
    {"gentle-max-pause", "DURATION", "--gentle: the longest single pause", "10s", "PGEXPORT_GENTLE_MAX_PAUSE"},
    {"replica", "URL", "read the rows from this streaming standby of --database (jobs, checkpoints and leases "
     "stay on --database); a job waits until the standby has replayed past the moment it was created", "",
     "PGEXPORT_REPLICA_URL"},
    {"storage", "URL", "where finished files go: the data directory, or s3://BUCKET/PREFIX (object storage; "
     "credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the AWS CLI's "
     "credentials file; the region from AWS_REGION)", "<data-dir>", "PGEXPORT_STORAGE"},
    {"s3-endpoint", "URL", "an S3-compatible server (http://host:port), addressed path-style [AWS]", "",
     "PGEXPORT_S3_ENDPOINT"},
    {"s3-part-size", "SIZE", "multipart upload part size, 5MiB to 5GiB", "16MiB", "PGEXPORT_S3_PART_SIZE"},
};

const std::vector<option_spec> migrate_specs = {database_option};

const std::vector<option_spec> seed_specs = {
    database_option,
    {"rows", "N", "rows to append to the demo table records", "", "PGEXPORT_SEED_ROWS"},
};

const std::vector<option_spec> export_specs = {
    {"server", "URL", "the pgexport server: http:// or https:// (verified against the system's CA store), an "
     "IPv6 address in brackets", "http://127.0.0.1:8080", "PGEXPORT_SERVER"},
    {"filters", "JSON", "the filters object of POST /api/export", "", ""},
    {"columns", "a,b,c", "columns in order [all]", "", ""},
    {"format", "csv|jsonl|parquet", "the file's format [csv]", "", ""},
    {"compression", "none|gzip", "compress the file [none] (not parquet: see --parquet)", "", ""},
    {"consistency", "chunked|snapshot", "snapshot: the whole file is one moment of the database (one snapshot "
     "for every chunk) [chunked]", "", ""},
    {"csv", "JSON", "CSV options: {\"delimiter\", \"header\", \"null\", \"forceQuote\", \"bom\"}", "", ""},
    {"parquet", "JSON", "Parquet options: {\"compression\": \"zstd|snappy|none\", \"rowGroupRows\": N}", "", ""},
    {"output", "FILE", "where to save the file [export-<jobId>.csv, .jsonl, .csv.gz, .jsonl.gz or .parquet]", "", ""},
    {"api-key", "KEY", "API key for the server (on a command line every user sees it in ps: prefer "
     "PGEXPORT_API_KEY)", "", "PGEXPORT_API_KEY"},
    {"force", "", "replace --output when it exists (by default an existing file is never replaced)", "", ""},
    {"quiet", "", "print nothing but errors", "", ""},
    {"job", "ID", "attach to an existing job instead of creating one", "", ""},
    {"since", "ID", "only the rows added since that job: those whose key is above its fixed end, with its table, "
     "filters, columns and format unless given here", "", ""},
    {"save-job-id", "FILE", "once the file is saved, write the job's id to FILE (for the next run's --since)", "", ""},
    {"cancel-on-interrupt", "", "cancel the job on Ctrl-C (by default it keeps running)", "", ""},
};

std::pair<std::string, unsigned short> split_listen(const std::string& listen) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos)
        throw std::invalid_argument("--listen must be HOST:PORT, not \"" + listen + "\"");
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port = listen.substr(colon + 1);
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p < 0 || p > 65535)
        throw std::invalid_argument("--listen has a bad port \"" + port + "\"");
    return {host, static_cast<unsigned short>(p)};
}

// --storage s3://... with its endpoint, part size and the AWS_* credentials. Throws std::invalid_argument.
pgexport::engine::s3_storage_config s3_storage_from(const options& o, const std::string& url) {
    auto location = pgexport::cli::parse_s3_url(url);
    if (!location)
        throw std::invalid_argument("--storage must be the data directory or s3://BUCKET/PREFIX (a bucket of 3 to 63 "
                                    "lowercase letters, digits, '.' and '-'), not \"" + url + "\"");
    pgexport::engine::s3_storage_config s3;
    s3.bucket = location->bucket;
    s3.prefix = location->prefix;
    s3.endpoint = o.get("s3-endpoint").value_or("");
    while (!s3.endpoint.empty() && s3.endpoint.back() == '/')
        s3.endpoint.pop_back();
    if (!s3.endpoint.empty() && !s3.endpoint.starts_with("http://") && !s3.endpoint.starts_with("https://"))
        throw std::invalid_argument("--s3-endpoint must be an http:// or https:// URL, not \"" + s3.endpoint + "\"");
    s3.part_size = o.get_size("s3-part-size", std::uint64_t{5} << 20, std::uint64_t{5} << 30);
    const auto credentials = pgexport::cli::find_aws_credentials(from_env);
    if (!credentials)
        throw std::invalid_argument("--storage s3:// needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                                    "(and AWS_SESSION_TOKEN for temporary ones), or the AWS CLI's credentials file "
                                    "(AWS_SHARED_CREDENTIALS_FILE [~/.aws/credentials], profile AWS_PROFILE [default])");
    s3.access_key = credentials->access_key;
    s3.secret_key = credentials->secret_key;
    s3.session_token = credentials->session_token;
    s3.region = from_env("AWS_REGION").value_or(from_env("AWS_DEFAULT_REGION").value_or("us-east-1"));
    return s3;
}

int run_serve(const options& o) {
    pgexport::engine::engine_config ec;
    ec.database_url = required(o, "database");
    ec.data_dir = required(o, "data-dir");
    ec.max_concurrent = static_cast<int>(o.get_int("max-concurrent", 1, 1000));
    ec.max_parallelism = static_cast<int>(o.get_int("max-parallelism", 1, pgexport::engine::max_request_parallelism));
    ec.min_slice_rows = o.get_int("min-slice-rows", 0, 1'000'000'000'000);
    ec.chunk_rows = static_cast<int>(o.get_int("chunk-rows", 1, 10'000'000));
    ec.parquet_row_group_bytes = o.get_size("parquet-row-group-bytes", std::uint64_t{1} << 20, std::uint64_t{1} << 30);
    ec.max_queued = static_cast<std::size_t>(o.get_int("max-queued", 1, 10'000'000));
    ec.max_jobs_per_key = static_cast<int>(o.get_int("max-jobs-per-key", 0, 10'000'000));
    ec.min_free_disk = o.get_size("min-free-disk", 0, std::numeric_limits<std::uint64_t>::max());
    ec.max_request_bytes_per_key = o.get_size("max-request-bytes-per-key", 0, std::numeric_limits<std::uint64_t>::max());
    ec.records_connections = static_cast<int>(o.get_int("records-connections", 1, 64));
    ec.records_queue = static_cast<std::size_t>(o.get_int("records-queue", 0, 100000));
    ec.records_timeout = o.get_duration("records-timeout", std::chrono::milliseconds(100), std::chrono::hours(1));
    if (auto id = o.get("instance-id"); id && *id != "host:pid")
        ec.instance_id = *id;
    ec.lease = o.get_duration("lease", std::chrono::milliseconds(300), std::chrono::hours(24));
    ec.warm_session_idle = o.get_duration("warm-session-idle", std::chrono::milliseconds(0), std::chrono::hours(24));
    ec.retention = o.get_duration("retention", std::chrono::seconds(1), std::chrono::hours(24 * 3650));
    ec.max_snapshot_age = o.get_duration("max-snapshot-age", std::chrono::seconds(1), std::chrono::hours(24 * 3650));
    if (auto replica = o.get("replica"); replica && !replica->empty())
        ec.replica_url = *replica;
    if (auto storage = o.get("storage"); storage && *storage != "<data-dir>" && *storage != ec.data_dir.string())
        ec.s3 = s3_storage_from(o, *storage);
    if (o.get("max-rate"))
        ec.max_rate = o.get_size("max-rate", 1024, std::uint64_t(1) << 50);
    if (o.flag("gentle")) {
        pgexport::engine::gentle_config g;
        g.max_sessions = static_cast<int>(o.get_int("gentle-max-sessions", 0, 10000));
        g.max_slowdown = static_cast<double>(o.get_int("gentle-max-slowdown", 0, 1000));
        if (g.max_slowdown == 1) // every chunk takes at least its own time: always busy
            throw std::invalid_argument("--gentle-max-slowdown must be 0 (off) or at least 2, not 1");
        g.min_share = static_cast<double>(o.get_int("gentle-min-share", 1, 100)) / 100;
        g.interval = o.get_duration("gentle-interval", std::chrono::milliseconds(10), std::chrono::minutes(1));
        g.max_pause = o.get_duration("gentle-max-pause", std::chrono::milliseconds(10), std::chrono::hours(1));
        ec.gentle = g;
    }
    ec.key = required(o, "key");
    if (const std::string cost = required(o, "random-page-cost"); cost == "server") {
        ec.random_page_cost.reset();
    } else {
        char* end = nullptr;
        const double value = std::strtod(cost.c_str(), &end);
        if (cost.empty() || *end != '\0' || !(value > 0) || value > 1000)
            throw std::invalid_argument("--random-page-cost must be a number above 0 (e.g. 1.1) or \"server\", not \"" +
                                        cost + "\"");
        ec.random_page_cost = value;
    }
    auto tables = o.all("table");
    if (tables.empty())
        tables.push_back(required(o, "table"));
    for (const std::string& spec : tables) {
        const auto colon = spec.rfind(':');
        std::string name = colon == std::string::npos ? spec : spec.substr(0, colon);
        std::string key = colon == std::string::npos ? ec.key : spec.substr(colon + 1);
        if (name.empty() || key.empty())
            throw std::invalid_argument("--table must be NAME or NAME:KEY, not \"" + spec + "\"");
        if (&spec == &tables.front()) {
            ec.table = std::move(name);
            ec.key = std::move(key);
        } else {
            ec.more_tables.emplace_back(std::move(name), std::move(key));
        }
    }
    pgexport::http::server_config sc;
    std::tie(sc.host, sc.port) = split_listen(required(o, "listen"));
    sc.api_keys = o.all("api-key");
    if (o.given("api-key"))
        pgexport::log_event("warning", "api_key_on_command_line",
                            {{"message", "--api-key on the command line is visible to every user of this machine "
                                         "(ps, /proc); put the keys in a file of mode 0600 and use --api-key-file"}});
    sc.allowed_hosts = o.all("allowed-host");
    sc.allowed_origins = o.all("allowed-origin");
    sc.trusted_proxies = o.all("trusted-proxy");
    sc.max_streams_per_client = static_cast<std::size_t>(o.get_int("max-streams-per-client", 1, 100000));
    for (const std::string& file : o.all("api-key-file")) {
        auto keys = pgexport::cli::read_api_key_file(file);
        sc.api_keys.insert(sc.api_keys.end(), keys.begin(), keys.end());
    }
    sc.no_auth = o.flag("no-auth");
    if (sc.no_auth && !sc.api_keys.empty())
        throw std::invalid_argument("--no-auth and API keys exclude each other: give one of them");
    // Without keys, anyone who reaches the port may read every row and every export: only this machine
    // may, unless the operator says something in front authenticates.
    if (sc.api_keys.empty() && !sc.no_auth && !pgexport::cli::is_loopback(sc.host))
        throw std::invalid_argument(
            "refusing to serve the API without API keys on " + sc.host +
            ", which other machines can reach: give --api-key-file FILE, listen on 127.0.0.1 (behind a reverse "
            "proxy), or --no-auth when something in front authenticates every request");
    sc.link_ttl = std::chrono::duration_cast<std::chrono::seconds>(
        o.get_duration("link-ttl", std::chrono::seconds(1), std::chrono::days(30)));
    std::filesystem::path secret_file = required(o, "secret-file");
    if (secret_file == "<data-dir>/secret")
        secret_file = ec.data_dir / "secret";
    if (!sc.api_keys.empty()) {
        // Only keys need it: owners and links are HMACs under it.
        sc.secret = pgexport::cli::load_or_create_secret(secret_file);
        pgexport::log_event("info", "secret_loaded", {{"path", secret_file.string()}});
    }
    // Notifications: signed with a whsec_ secret that every instance shares, beside the link secret.
    std::filesystem::path webhook_file = required(o, "webhook-secret-file");
    if (webhook_file == "<beside --secret-file>/webhook-secret")
        webhook_file = secret_file.parent_path() / "webhook-secret";
    const std::string webhook_secret =
        pgexport::cli::load_or_create_secret(webhook_file, [] { return pgexport::engine::make_webhook_secret() + "\n"; });
    const auto webhook_key = pgexport::engine::webhook_key_of(webhook_secret);
    if (!webhook_key)
        throw std::invalid_argument("the webhook secret file " + webhook_file.string() +
                                    " does not hold a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 "
                                    "bytes (remove it to have one made)");
    ec.notify.key = *webhook_key;
    ec.notify.allowed_hosts = o.all("webhook-allow");
    ec.notify.retry_for = o.get_duration("webhook-retry-for", std::chrono::seconds(1), std::chrono::days(30));
    pgexport::log_event("info", "webhook_secret_loaded", {{"path", webhook_file.string()}});
    // Every connection, job file and database connection is a descriptor: take all the hard limit allows,
    // and size the connection cap from it, so that a flood of connections cannot starve the jobs.
    const auto descriptors = pgexport::cli::raise_descriptor_limit();
    sc.max_connections = pgexport::cli::connection_cap(descriptors.soft, ec.max_concurrent * ec.max_parallelism);
    if (o.get("max-connections"))
        sc.max_connections = static_cast<std::size_t>(o.get_int("max-connections", 2, 1000000));
    sc.max_connections_per_address = std::min<std::size_t>(sc.max_connections_per_address, sc.max_connections);
    boost::json::object limit_fields{{"soft_before", descriptors.before},
                                     {"soft", descriptors.soft},
                                     {"hard", descriptors.hard},
                                     {"max_connections", sc.max_connections}};
    if (descriptors.error)
        limit_fields["error"] = std::strerror(descriptors.error);
    pgexport::log_event(descriptors.error ? "warning" : "info", "descriptor_limit", std::move(limit_fields));

    ec.apply_migrations = true;
    const auto shutdown_grace = o.get_duration("shutdown-grace", std::chrono::milliseconds(0), std::chrono::hours(1));

    // Errors, not signals: a client gone mid-download (sendfile) gives EPIPE, a file-size limit EFBIG, and
    // both are handled where they happen instead of killing the process.
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);

    asio::io_context io(1);
    pgexport::engine::export_engine engine(io.get_executor(), ec);
    pgexport::http::server server(io, engine, sc);
    server.listen();
    int exit_code = 0;
    pgexport::log_event(
        "info", "listening",
        {{"address", sc.host + ":" + std::to_string(server.port())}, {"api_keys", sc.api_keys.size()}});
    if (sc.no_auth)
        pgexport::log_event("warning", "open_api",
                            {{"message", "--no-auth: the API takes no keys; anyone who can reach " + sc.host +
                                             " and gets past what is in front can read every row and export"}});
    else if (sc.api_keys.empty())
        pgexport::log_event("info", "local_api",
                            {{"message", "no API keys: the API serves clients on this machine only"}});
    auto fatal = [&](std::exception_ptr e) {
        if (!e)
            return;
        pgexport::log_if_failed(e, "serve_failed");
        exit_code = 1;
        server.stop();
        io.stop();
    };
    asio::co_spawn(io, server.async_run(), fatal);
    // The server answers (/healthz says 503) while the database is away; the engine starts, and takes
    // up its unfinished jobs, once it can be reached.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int attempt = 0;; ++attempt) {
                std::string unreachable;
                try {
                    co_await engine.async_start();
                    pgexport::log_event("info", "engine_started", {{"table", engine.schema().table}});
                    co_await pgexport::http::async_rename_legacy_owners(engine, sc);
                    co_return;
                } catch (const pgexport::engine::unavailable_error& e) {
                    unreachable = e.what();
                }
                const auto delay = std::chrono::milliseconds(std::min(30000, 500 << std::min(attempt, 6)));
                pgexport::log_event("warning", "database_unreachable",
                                    {{"error", unreachable}, {"retry_in_ms", delay.count()}});
                asio::steady_timer wait(io, delay);
                co_await wait.async_wait(asio::use_awaitable);
            }
        },
        fatal);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec)
            return;
        pgexport::log_event("info", "shutting_down", {{"signal", sig}});
        // No new connection; the jobs stop at once (each checkpointed, its lease given back) and the event
        // streams end; then the requests in flight (downloads) finish, within the grace.
        server.stop();
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await engine.async_shutdown();
                co_await server.async_drain(shutdown_grace);
            },
            [&](std::exception_ptr e) {
                pgexport::log_if_failed(e, "shutdown_failed");
                io.stop();
            });
    });
    io.run();
    return exit_code;
}

int run_migrate(const options& o) {
    const int applied = pgexport::engine::apply_migrations(required(o, "database"));
    std::cout << "applied " << applied << " migration(s)\n";
    return 0;
}

int run_seed(const options& o) {
    pgexport::cli::seed_params p;
    p.database_url = required(o, "database");
    p.rows = o.get_int("rows", 0, 1'000'000'000'000LL);
    const auto added = pgexport::cli::seed_records(p);
    std::cout << "added " << added << " row(s) to records\n";
    return 0;
}

int run_export(const options& o) {
    pgexport::cli::export_client_params p;
    p.server = required(o, "server");
    p.filters_json = o.get("filters");
    p.columns = o.get("columns");
    p.format = o.get("format");
    p.compression = o.get("compression");
    p.consistency = o.get("consistency");
    p.csv_json = o.get("csv");
    p.parquet_json = o.get("parquet");
    p.output = o.get("output");
    p.api_key = o.get("api-key");
    p.job_id = o.get("job");
    p.since = o.get("since");
    p.save_job_id = o.get("save-job-id");
    p.quiet = o.flag("quiet");
    p.cancel_on_interrupt = o.flag("cancel-on-interrupt");
    p.force = o.flag("force");
    return pgexport::cli::run_export_client(p);
}

struct command {
    std::string name;
    std::string summary;
    const std::vector<option_spec>* specs;
    int (*run)(const options&);
};

const std::vector<command> commands = {
    {"serve", "Serves the HTTP API and web page, runs the export engine, resumes unfinished jobs.",
     &serve_specs, run_serve},
    {"migrate", "Applies the job-table migrations and exits.", &migrate_specs, run_migrate},
    {"seed", "Creates the demo table records if missing and appends N deterministic rows.", &seed_specs,
     run_seed},
    {"export", "Creates an export on a running server, shows progress and downloads the file.", &export_specs,
     run_export},
};

void print_help() {
    std::cout << "usage: pgexport <command> [options]\n\ncommands:\n";
    for (const auto& c : commands)
        std::cout << "  " << c.name << std::string(10 - c.name.size(), ' ') << c.summary << "\n";
    std::cout
        << "\n'pgexport <command> --help' describes a command's options. Options may also come from the\n"
           "environment (DATABASE_URL, PGEXPORT_*); a flag wins over the environment. pgexport --version\n"
           "prints the version.\n";
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "--version" || args[0] == "version")) {
        std::cout << "pgexport " << pgexport::version() << "\n";
        return 0;
    }
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_help();
        return args.empty() ? 2 : 0;
    }
    for (const auto& c : commands) {
        if (c.name != args[0])
            continue;
        try {
            options o(*c.specs, {args.begin() + 1, args.end()}, from_env);
            if (o.help()) {
                std::cout << pgexport::cli::usage(c.name, c.summary, *c.specs);
                return 0;
            }
            return c.run(o);
        } catch (const std::invalid_argument& e) {
            std::cerr << "pgexport " << c.name << ": " << e.what() << "\n";
            return 2;
        } catch (const std::exception& e) {
            std::cerr << "pgexport " << c.name << ": " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "pgexport: unknown command \"" << args[0] << "\" (see pgexport --help)\n";
    return 2;
}
