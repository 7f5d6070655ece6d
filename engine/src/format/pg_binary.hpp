#pragma once
// PostgreSQL's binary COPY format, read (the COPY page of PostgreSQL's manual, "Binary Format"): the
// 11-byte signature, the flags, the header extension, then tuples (a 16-bit field count, each field a
// 32-bit length, -1 for NULL, and the type's binary send form) and the trailer (a field count of -1).
// Pure, no I/O: fed the pieces PQgetCopyData returns, it hands out one decoded row at a time.
//
// Values come out as Parquet stores them (format/parquet), converted from PostgreSQL's representation:
// - int2 and int4 as int32, int8 as int64; float4 and float8 as they are (NaN and infinities included);
// - numeric (of a column with a precision <= 38) as the unscaled integer of DECIMAL(precision, scale):
//   the value times 10^scale. NaN and infinities have no DECIMAL form: an error;
// - date as days since 1970-01-01 (PostgreSQL counts from 2000-01-01); timestamp and timestamptz as
//   microseconds since 1970-01-01 00:00:00 (UTC for timestamptz). PostgreSQL's infinities become DuckDB's:
//   'infinity' is INT32_MAX / INT64_MAX, '-infinity' is -INT32_MAX / -INT64_MAX (DuckDB reads them back as
//   infinity; other readers see a date or time far beyond any real one). A finite timestamp after
//   294247-01-10 04:00:54.775806, where PostgreSQL's range goes on but an int64 of microseconds since 1970
//   (less the two infinities) ends, is an error;
// - uuid as its 16 bytes; text, varchar, bpchar, enum, json, bytea and anything selected as ::text as the
//   bytes sent; jsonb as its text (after the format's version byte, 1).
//
// Pieces: libpq returns one CopyData message per PQgetCopyData call, which PostgreSQL fills with one tuple
// (the first one also holds the header; the trailer comes alone). The decoder does not rely on it: a tuple
// or the header may arrive in any number of pieces, and a piece may hold several. A row's text views the
// piece it came in when it came whole, else the decoder's own copy of it; memory is the largest tuple
// that straddled pieces.
//
// Never reads outside what it was fed, whatever the bytes (tests/fuzz/fuzz_pg_binary.cpp).

#include "format/int128.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// How a column's fields are read.
enum class pg_binary_kind : std::uint8_t {
    int2,      // -> i32
    int4,      // -> i32
    int8,      // -> i64
    float4,    // -> f32
    float8,    // -> f64
    boolean,   // -> boolean
    numeric,   // -> i128, the unscaled value of DECIMAL(precision, scale)
    date,      // -> i32, days since 1970-01-01
    timestamp, // timestamp and timestamptz -> i64, microseconds since 1970-01-01
    uuid,      // -> bytes, 16 of them
    bytes,     // text, varchar, bpchar, enum, json, bytea, ::text -> bytes
    jsonb,     // -> bytes, the JSON text
};

struct pg_binary_column {
    pg_binary_kind kind = pg_binary_kind::bytes;
    int precision = 0; // numeric: 1..38
    int scale = 0;     // numeric: 0..precision
};

// One field of a decoded row. Which member holds the value is `type`'s; `bytes` views the stream and is
// valid until the next call to feed() or next().
struct pg_field {
    enum class tag : std::uint8_t { null, i32, i64, f32, f64, boolean, i128, bytes };
    tag type = tag::null;
    union {
        std::int32_t i32;
        std::int64_t i64;
        float f32;
        double f64;
        bool boolean;
        int128 i128;
    };
    std::string_view bytes;

    pg_field() : i128(0) {}
};

// Why a stream cannot be decoded. `malformed`: not PostgreSQL's binary COPY of these columns (a bug or a
// broken stream); `unrepresentable`: a value Parquet's type for the column cannot hold (a numeric NaN or
// infinity, a timestamp past 294247). `column` is the 0-based column, or -1 for the stream's framing.
struct pg_binary_error {
    enum class kind : std::uint8_t { malformed, unrepresentable };
    kind what = kind::malformed;
    int column = -1;
    std::string message;
};

enum class pg_binary_status : std::uint8_t {
    row,       // a row was decoded: fields()
    need_more, // every complete tuple was handed out: feed() the next piece
    end,       // the trailer was read; nothing may follow it
    error,     // error() says why; the decoder stays in this state
};

class pg_binary_decoder {
public:
    explicit pg_binary_decoder(std::vector<pg_binary_column> columns);

    // Adds the next piece of the stream. The piece must stay valid until next() answers need_more, end or
    // error (the decoder copies what it still needs of it then).
    void feed(std::string_view piece);

    // Decodes the next tuple of what was fed.
    pg_binary_status next();

    // The last row next() decoded, one field a column.
    std::span<const pg_field> fields() const { return fields_; }
    const pg_binary_error& error() const { return error_; }
    // Rows decoded so far.
    std::uint64_t rows() const { return rows_; }

private:
    enum class state : std::uint8_t { header, extension, tuples, end, error };

    pg_binary_status fail(pg_binary_error::kind what, int column, std::string message);
    pg_binary_status keep_rest();
    pg_binary_status decode_tuple(std::string_view tuple);

    std::vector<pg_binary_column> columns_;
    std::vector<pg_field> fields_;
    state state_ = state::header;
    std::uint32_t extension_left_ = 0; // bytes of the header extension still to skip
    std::string held_;                 // the tail of earlier pieces: a tuple (or header) begun
    std::string_view input_;           // what next() reads: a piece, or held_
    std::size_t at_ = 0;               // how far into input_
    std::uint64_t rows_ = 0;
    pg_binary_error error_;
};

// The unscaled integer of the numeric `field` (the binary send form: ndigits, weight, sign, dscale, then
// ndigits base-10000 digits) as DECIMAL(precision, scale): the value times 10^scale, which must be an
// integer of at most `precision` digits (precision 1..38). Sets `error`'s kind and message (and answers 0)
// for a malformed field, and for NaN, infinities, digits beyond the scale and too many digits
// (unrepresentable); leaves the message empty otherwise.
int128 numeric_unscaled(std::string_view field, int precision, int scale, pg_binary_error& error);

} // namespace pgexport::engine::detail
