// copy_baseline: the floor pgexport is measured against — one unchunked COPY read through libpq.
//
//   copy_baseline --database URL --query SQL --output FILE
//
// Runs `COPY (<SQL>) TO STDOUT (FORMAT csv, HEADER true)` in a session with the settings pgexport's export
// connections use (TimeZone=UTC, DateStyle=ISO, MDY, client_encoding=UTF8, extra_float_digits=3), so its
// file is byte-identical to pgexport's for the same SELECT. Rows are taken with PQgetCopyData in blocking
// mode and written through a 1 MiB buffer (the size pgexport writes in). No fsync: like psql's \copy, the
// file is left in the page cache; pgexport's durability (fdatasync per chunk) is part of what it pays.
//
// Prints one line of JSON on stdout: {"rows": N, "bytes": N, "seconds": S} (rows without the header).
// Exit 0 on success, 1 on a database or file error, 2 on bad usage.

#include <libpq-fe.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace pgexport::bench {

namespace {

struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct pqmem_deleter {
    void operator()(char* p) const noexcept { PQfreemem(p); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;
using result_ptr = std::unique_ptr<PGresult, result_deleter>;
using pqmem_ptr = std::unique_ptr<char, pqmem_deleter>;

// libpq's message without its trailing newline.
std::string message_of(PGconn* c) {
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
        m.pop_back();
    return m;
}

// A file written through a fixed buffer: write(2) only when the buffer is full, and at close().
class buffered_file {
public:
    buffered_file(const std::string& path, std::size_t buffer_bytes) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0)
            throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        buffer_.reserve(buffer_bytes);
    }
    buffered_file(const buffered_file&) = delete;
    buffered_file& operator=(const buffered_file&) = delete;
    ~buffered_file() {
        if (fd_ >= 0)
            ::close(fd_);
    }

    void append(const char* data, std::size_t n) {
        if (buffer_.size() + n > buffer_.capacity()) {
            flush();
            if (n >= buffer_.capacity()) {
                write_all(data, n);
                return;
            }
        }
        buffer_.insert(buffer_.end(), data, data + n);
    }

    // Writes what is buffered and closes; throws on any error (a disk full shows here).
    void close() {
        flush();
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0)
            throw std::runtime_error("cannot close " + path_ + ": " + std::strerror(errno));
    }

    std::uint64_t size() const { return written_ + buffer_.size(); }

private:
    void flush() {
        write_all(buffer_.data(), buffer_.size());
        buffer_.clear();
    }
    void write_all(const char* p, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            written_ += static_cast<std::uint64_t>(w);
        }
    }

    std::string path_;
    int fd_ = -1;
    std::vector<char> buffer_;
    std::uint64_t written_ = 0;
};

void exec_command(PGconn* c, const std::string& sql) {
    result_ptr r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        throw std::runtime_error("\"" + sql + "\" failed: " + message_of(c));
}

struct copy_result {
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;
};

copy_result run_copy(const std::string& url, const std::string& query, const std::string& output) {
    const char* keys[] = {"dbname", "client_encoding", "application_name", nullptr};
    const char* values[] = {url.c_str(), "UTF8", "pgexport_bench_copy", nullptr};
    conn_ptr conn(PQconnectdbParams(keys, values, 1));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error("cannot connect: " +
                                 (conn ? message_of(conn.get()) : std::string("out of memory")));
    PGconn* c = conn.get();
    // The same session settings as pgexport's export connections (see engine/src/store/pg.cpp).
    exec_command(c, "SET TimeZone = 'UTC'");
    exec_command(c, "SET DateStyle = 'ISO, MDY'");
    exec_command(c, "SET extra_float_digits = 3");

    buffered_file file(output, 1 << 20);
    const std::string sql = "COPY (" + query + ") TO STDOUT (FORMAT csv, HEADER true)";
    {
        result_ptr r(PQexec(c, sql.c_str()));
        if (PQresultStatus(r.get()) != PGRES_COPY_OUT)
            throw std::runtime_error("COPY did not start: " + message_of(c));
    }
    copy_result out;
    for (;;) {
        char* raw = nullptr;
        const int n = PQgetCopyData(c, &raw, 0); // blocking: one row (or the header) per call
        pqmem_ptr row(raw);
        if (n == -1)
            break;
        if (n < 0)
            throw std::runtime_error("COPY failed: " + message_of(c));
        file.append(row.get(), static_cast<std::size_t>(n));
        ++out.rows;
    }
    while (result_ptr r{PQgetResult(c)}) {
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            throw std::runtime_error("COPY failed: " + std::string(PQresultErrorMessage(r.get())));
    }
    out.bytes = file.size();
    file.close();
    if (out.rows > 0)
        --out.rows; // the header line
    return out;
}

int usage() {
    std::fprintf(stderr, "usage: copy_baseline --database URL --query SQL --output FILE\n");
    return 2;
}

} // namespace

int run(int argc, char** argv) {
    std::string url;
    std::string query;
    std::string output;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            usage();
            return 0;
        }
        if (i + 1 >= argc)
            return usage();
        if (a == "--database")
            url = argv[++i];
        else if (a == "--query")
            query = argv[++i];
        else if (a == "--output")
            output = argv[++i];
        else
            return usage();
    }
    if (url.empty() || query.empty() || output.empty())
        return usage();
    try {
        const auto start = std::chrono::steady_clock::now();
        const copy_result r = run_copy(url, query, output);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("{\"rows\": %llu, \"bytes\": %llu, \"seconds\": %.6f}\n",
                    static_cast<unsigned long long>(r.rows), static_cast<unsigned long long>(r.bytes),
                    seconds);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "copy_baseline: %s\n", e.what());
        return 1;
    }
}

} // namespace pgexport::bench

int main(int argc, char** argv) {
    return pgexport::bench::run(argc, argv);
}
