// The output's options: the "csv" object's checks, and the names and types a format gives a download.
#include "format/output_options.hpp"
#include "util/text_checks.hpp"

#include <boost/json.hpp>

namespace json = boost::json;

namespace pgexport::engine {

namespace detail {

result<csv_options> parse_csv_options(const json::value& value) {
    if (!value.is_object())
        return invalid("\"csv\" must be an object of delimiter, header, null, forceQuote and bom");
    csv_options csv;
    auto flag = [](const json::value& v, std::string_view name, bool& out) -> std::optional<problem> {
        if (!v.is_bool())
            return invalid("\"csv\": \"" + std::string(name) + "\" must be true or false");
        out = v.get_bool();
        return std::nullopt;
    };
    for (const auto& [key, v] : value.get_object()) {
        if (key == "delimiter") {
            if (!v.is_string())
                return invalid("\"csv\": \"delimiter\" must be a string of one character, such as \",\" or \";\"");
            const json::string& d = v.get_string();
            if (d.size() != 1 || static_cast<unsigned char>(d[0]) >= 0x80)
                return invalid("\"csv\": \"delimiter\" must be a single one-byte (ASCII) character, such as \",\","
                               " \";\" or \"\\t\"");
            const char c = d[0];
            if (c == '\0')
                return invalid("\"csv\": \"delimiter\" cannot be the NUL character");
            if (c == '\n' || c == '\r')
                return invalid("\"csv\": \"delimiter\" cannot be a newline or carriage return");
            if (c == '"')
                return invalid("\"csv\": \"delimiter\" cannot be the quote character \"\\\"\"");
            if ((c >= '0' && c <= '9') || c == '-')
                return invalid("\"csv\": \"delimiter\" cannot be a digit or \"-\": they occur in the key's numbers");
            csv.delimiter = c;
        } else if (key == "header") {
            if (auto p = flag(v, "header", csv.header))
                return *p;
        } else if (key == "forceQuote") {
            if (auto p = flag(v, "forceQuote", csv.force_quote))
                return *p;
        } else if (key == "bom") {
            if (auto p = flag(v, "bom", csv.bom))
                return *p;
        } else if (key == "null") {
            if (!v.is_string())
                return invalid("\"csv\": \"null\" must be a string, the text written for SQL NULL (\"\" by default)");
            if (auto p = check_text(v.get_string(), "\"csv\": \"null\""))
                return *p;
            csv.null = std::string(v.get_string());
        } else {
            if (check_text(key, "field"))
                return invalid("unknown field in \"csv\"; expected delimiter, header, null, forceQuote and bom");
            return invalid("unknown field \"" + std::string(key) +
                           "\" in \"csv\"; expected delimiter, header, null, forceQuote and bom");
        }
    }
    if (csv.null.size() > 256)
        return invalid("\"csv\": \"null\" is longer than 256 bytes");
    if (csv.null.find_first_of("\r\n") != std::string::npos)
        return invalid("\"csv\": \"null\" cannot contain a newline or carriage return");
    if (csv.null.find(csv.delimiter) != std::string::npos)
        return invalid("\"csv\": \"null\" cannot contain the delimiter \"" + std::string(1, csv.delimiter) +
                       "\" (NULL could not be told from several values)");
    if (csv.null.find('"') != std::string::npos)
        return invalid("\"csv\": \"null\" cannot contain the quote character \"\\\"\"");
    if (csv.null == "\\.")
        return invalid("\"csv\": \"null\" cannot be \"\\\\.\", COPY's end-of-data marker");
    return csv;
}

result<parquet_options> parse_parquet_options(const json::value& value) {
    if (!value.is_object())
        return invalid("\"parquet\" must be an object of compression and rowGroupRows");
    parquet_options parquet;
    for (const auto& [key, v] : value.get_object()) {
        if (key == "compression") {
            const json::string* name = v.if_string();
            if (name && *name == "zstd")
                parquet.compression = parquet_compression::zstd;
            else if (name && *name == "snappy")
                parquet.compression = parquet_compression::snappy;
            else if (name && *name == "none")
                parquet.compression = parquet_compression::none;
            else
                return invalid("\"parquet\": \"compression\" must be \"zstd\", \"snappy\" or \"none\" (the codec of"
                               " the file's pages; gzip is not offered)");
        } else if (key == "rowGroupRows") {
            const auto rows = v.if_int64();
            if (!rows || *rows < min_row_group_rows || *rows > max_row_group_rows)
                return invalid("\"parquet\": \"rowGroupRows\" must be a whole number from " +
                               std::to_string(min_row_group_rows) + " to " + std::to_string(max_row_group_rows) +
                               ": the rows of each row group, and how often the export checkpoints");
            parquet.row_group_rows = *rows;
        } else {
            if (check_text(key, "field"))
                return invalid("unknown field in \"parquet\"; expected compression and rowGroupRows");
            return invalid("unknown field \"" + std::string(key) + "\" in \"parquet\"; expected compression and rowGroupRows");
        }
    }
    return parquet;
}

} // namespace detail

std::string_view to_string(output_format format) {
    switch (format) {
    case output_format::jsonl:
        return "jsonl";
    case output_format::parquet:
        return "parquet";
    case output_format::csv:
        break;
    }
    return "csv";
}

std::string_view to_string(parquet_compression compression) {
    switch (compression) {
    case parquet_compression::snappy:
        return "snappy";
    case parquet_compression::none:
        return "none";
    case parquet_compression::zstd:
        break;
    }
    return "zstd";
}

std::string_view to_string(output_compression compression) {
    return compression == output_compression::gzip ? "gzip" : "none";
}

std::string download_file_name(std::string_view job_id, const export_request& request) {
    std::string name = "export-";
    name += job_id;
    name += '.';
    name += to_string(request.format);
    if (request.compression == output_compression::gzip)
        name += ".gz";
    return name;
}

std::string_view download_content_type(const export_request& request) {
    if (request.compression == output_compression::gzip)
        return "application/gzip";
    switch (request.format) {
    case output_format::jsonl:
        return "application/x-ndjson";
    case output_format::parquet:
        return "application/vnd.apache.parquet";
    case output_format::csv:
        break;
    }
    return "text/csv; charset=utf-8";
}

} // namespace pgexport::engine
