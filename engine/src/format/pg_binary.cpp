#include "format/pg_binary.hpp"

#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace pgexport::engine::detail {

namespace {

constexpr std::string_view signature{"PGCOPY\n\377\r\n\0", 11};
constexpr std::size_t header_bytes = 11 + 4 + 4; // signature, flags, extension length

// Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
constexpr std::int64_t epoch_days = 10957;
constexpr std::int64_t epoch_micros = epoch_days * 86400 * 1000000;

template <class T> T big_endian(const char* p) {
    using U = std::make_unsigned_t<T>;
    U value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value = static_cast<U>((value << 8) | static_cast<unsigned char>(p[i]));
    return static_cast<T>(value);
}

std::string_view kind_name(pg_binary_kind kind) {
    switch (kind) {
    case pg_binary_kind::int2:
        return "smallint";
    case pg_binary_kind::int4:
        return "integer";
    case pg_binary_kind::int8:
        return "bigint";
    case pg_binary_kind::float4:
        return "real";
    case pg_binary_kind::float8:
        return "double precision";
    case pg_binary_kind::boolean:
        return "boolean";
    case pg_binary_kind::numeric:
        return "numeric";
    case pg_binary_kind::date:
        return "date";
    case pg_binary_kind::timestamp:
        return "timestamp";
    case pg_binary_kind::uuid:
        return "uuid";
    case pg_binary_kind::bytes:
        return "text";
    case pg_binary_kind::jsonb:
        return "jsonb";
    }
    return "?";
}

// The field's exact length for fixed-size kinds, 0 for the others.
std::size_t fixed_size(pg_binary_kind kind) {
    switch (kind) {
    case pg_binary_kind::int2:
        return 2;
    case pg_binary_kind::int4:
    case pg_binary_kind::float4:
    case pg_binary_kind::date:
        return 4;
    case pg_binary_kind::int8:
    case pg_binary_kind::float8:
    case pg_binary_kind::timestamp:
        return 8;
    case pg_binary_kind::boolean:
        return 1;
    case pg_binary_kind::uuid:
        return 16;
    case pg_binary_kind::numeric:
    case pg_binary_kind::bytes:
    case pg_binary_kind::jsonb:
        return 0;
    }
    return 0;
}

} // namespace

int128 numeric_unscaled(std::string_view field, int precision, int scale, pg_binary_error& error) {
    using enum pg_binary_error::kind;
    auto fail = [&error](pg_binary_error::kind what, std::string message) {
        error.what = what;
        error.message = std::move(message);
        return int128{0};
    };
    if (field.size() < 8)
        return fail(malformed, "a numeric field shorter than its 8-byte header");
    const auto ndigits = big_endian<std::int16_t>(field.data());
    const auto weight = big_endian<std::int16_t>(field.data() + 2);
    const auto sign = big_endian<std::uint16_t>(field.data() + 4);
    if (ndigits < 0 || field.size() != 8 + 2 * static_cast<std::size_t>(ndigits))
        return fail(malformed, "a numeric field whose digit count does not match its length");
    switch (sign) {
    case 0x0000:
    case 0x4000:
        break;
    case 0xC000:
        return fail(unrepresentable, "NaN has no Parquet DECIMAL form");
    case 0xD000:
        return fail(unrepresentable, "Infinity has no Parquet DECIMAL form");
    case 0xF000:
        return fail(unrepresentable, "-Infinity has no Parquet DECIMAL form");
    default:
        return fail(malformed, "a numeric field with an unknown sign");
    }
    // The unscaled value is the sum of digit[k] * 10^(4 * (weight - k) + scale); it must stay below
    // 10^precision, and digits past the scale must be zero.
    const uint128 limit = powers_of_ten[static_cast<std::size_t>(precision)];
    const std::string too_many = "a numeric value with more digits than its precision " + std::to_string(precision);
    uint128 unscaled = 0;
    for (int k = 0; k < ndigits; ++k) {
        const auto digit = big_endian<std::uint16_t>(field.data() + 8 + 2 * k);
        if (digit > 9999)
            return fail(malformed, "a numeric digit over 9999");
        if (digit == 0)
            continue;
        const int power = 4 * (weight - k) + scale;
        if (power < 0) {
            // Only the digit's leading decimal digits are within the scale; the rest must be zeros.
            if (power <= -4 || digit % powers_of_ten[static_cast<std::size_t>(-power)] != 0)
                return fail(unrepresentable,
                            "a numeric value with more decimal digits than its scale " + std::to_string(scale));
            unscaled += digit / powers_of_ten[static_cast<std::size_t>(-power)];
        } else {
            if (power > precision || digit > (limit - 1 - unscaled) / powers_of_ten[static_cast<std::size_t>(power)])
                return fail(unrepresentable, too_many);
            unscaled += digit * powers_of_ten[static_cast<std::size_t>(power)];
        }
        if (unscaled >= limit)
            return fail(unrepresentable, too_many);
    }
    return sign == 0x4000 ? -static_cast<int128>(unscaled) : static_cast<int128>(unscaled);
}

pg_binary_decoder::pg_binary_decoder(std::vector<pg_binary_column> columns)
    : columns_(std::move(columns)), fields_(columns_.size()) {
    if (columns_.size() > static_cast<std::size_t>(std::numeric_limits<std::int16_t>::max()))
        throw std::invalid_argument("binary COPY carries at most 32767 columns");
    for (const auto& c : columns_)
        if (c.kind == pg_binary_kind::numeric && (c.precision < 1 || c.precision > 38 || c.scale < 0 || c.scale > c.precision))
            throw std::invalid_argument("a numeric column needs 1 <= precision <= 38 and 0 <= scale <= precision");
}

void pg_binary_decoder::feed(std::string_view piece) {
    if (at_ < input_.size())
        keep_rest(); // fed again before next() asked for more: keep what is still unread
    if (held_.empty()) {
        input_ = piece;
    } else {
        held_.append(piece);
        input_ = held_;
    }
    at_ = 0;
}

pg_binary_status pg_binary_decoder::keep_rest() {
    if (input_.data() == held_.data())
        held_.erase(0, at_);
    else
        held_.assign(input_.substr(at_));
    input_ = {};
    at_ = 0;
    return pg_binary_status::need_more;
}

pg_binary_status pg_binary_decoder::fail(pg_binary_error::kind what, int column, std::string message) {
    state_ = state::error;
    error_ = {what, column, std::move(message)};
    held_.clear();
    input_ = {};
    at_ = 0;
    return pg_binary_status::error;
}

pg_binary_status pg_binary_decoder::next() {
    using kind = pg_binary_error::kind;
    const std::size_t available = input_.size() - at_;
    const char* p = input_.data() + at_;
    switch (state_) {
    case state::error:
        return pg_binary_status::error;
    case state::end:
        if (available > 0)
            return fail(kind::malformed, -1, "bytes after the binary COPY trailer");
        return pg_binary_status::end;
    case state::header: {
        if (available < header_bytes)
            return keep_rest();
        if (std::string_view(p, signature.size()) != signature)
            return fail(kind::malformed, -1, "not a binary COPY stream (no PGCOPY signature)");
        const auto flags = big_endian<std::uint32_t>(p + 11);
        // Bits 0-15 are incompatible changes a reader must refuse; bit 16 is OIDs, which PostgreSQL no
        // longer sends; 17-31 may be ignored.
        if ((flags & 0x1FFFF) != 0)
            return fail(kind::malformed, -1, "a binary COPY header with flags this reader does not know");
        const auto extension = big_endian<std::uint32_t>(p + 15);
        if (extension > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
            return fail(kind::malformed, -1, "a binary COPY header extension of negative length");
        at_ += header_bytes;
        extension_left_ = extension;
        state_ = state::extension;
        return next();
    }
    case state::extension: {
        const std::size_t skip = std::min<std::size_t>(available, extension_left_);
        at_ += skip;
        extension_left_ -= static_cast<std::uint32_t>(skip);
        if (extension_left_ > 0)
            return keep_rest();
        state_ = state::tuples;
        return next();
    }
    case state::tuples:
        break;
    }
    if (available < 2)
        return keep_rest();
    const auto count = big_endian<std::int16_t>(p);
    if (count == -1) {
        at_ += 2;
        state_ = state::end;
        return next();
    }
    if (count != static_cast<std::int64_t>(columns_.size()))
        return fail(kind::malformed, -1,
                    "a tuple of " + std::to_string(count) + " fields where " + std::to_string(columns_.size()) +
                        " columns were expected");
    // The whole tuple must be here before any of it is decoded: find its end first.
    std::size_t end = 2;
    for (std::int16_t i = 0; i < count; ++i) {
        if (available - end < 4)
            return keep_rest();
        const auto length = big_endian<std::int32_t>(p + end);
        end += 4;
        if (length == -1)
            continue;
        if (length < 0)
            return fail(kind::malformed, i, "a field of negative length");
        if (available - end < static_cast<std::size_t>(length))
            return keep_rest();
        end += static_cast<std::size_t>(length);
    }
    at_ += end;
    return decode_tuple({p, end});
}

pg_binary_status pg_binary_decoder::decode_tuple(std::string_view tuple) {
    using kind = pg_binary_error::kind;
    std::size_t at = 2;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        const int column = static_cast<int>(i);
        const auto length = big_endian<std::int32_t>(tuple.data() + at);
        at += 4;
        pg_field& f = fields_[i];
        f.bytes = {};
        if (length == -1) {
            f.type = pg_field::tag::null;
            continue;
        }
        const std::string_view v = tuple.substr(at, static_cast<std::size_t>(length));
        at += v.size();
        const pg_binary_column& c = columns_[i];
        const std::size_t size = fixed_size(c.kind);
        if (size != 0 && v.size() != size)
            return fail(kind::malformed, column,
                        "a " + std::string(kind_name(c.kind)) + " field of " + std::to_string(v.size()) + " bytes");
        switch (c.kind) {
        case pg_binary_kind::int2:
            f.type = pg_field::tag::i32;
            f.i32 = big_endian<std::int16_t>(v.data());
            break;
        case pg_binary_kind::int4:
            f.type = pg_field::tag::i32;
            f.i32 = big_endian<std::int32_t>(v.data());
            break;
        case pg_binary_kind::int8:
            f.type = pg_field::tag::i64;
            f.i64 = big_endian<std::int64_t>(v.data());
            break;
        case pg_binary_kind::float4:
            f.type = pg_field::tag::f32;
            f.f32 = std::bit_cast<float>(big_endian<std::uint32_t>(v.data()));
            break;
        case pg_binary_kind::float8:
            f.type = pg_field::tag::f64;
            f.f64 = std::bit_cast<double>(big_endian<std::uint64_t>(v.data()));
            break;
        case pg_binary_kind::boolean:
            f.type = pg_field::tag::boolean;
            f.boolean = v[0] != 0;
            break;
        case pg_binary_kind::numeric: {
            pg_binary_error why;
            f.type = pg_field::tag::i128;
            f.i128 = numeric_unscaled(v, c.precision, c.scale, why);
            if (!why.message.empty())
                return fail(why.what, column, std::move(why.message));
            break;
        }
        case pg_binary_kind::date: {
            const auto days = big_endian<std::int32_t>(v.data());
            constexpr std::int32_t max = std::numeric_limits<std::int32_t>::max();
            f.type = pg_field::tag::i32;
            if (days == max || days == std::numeric_limits<std::int32_t>::min()) {
                f.i32 = days == max ? max : -max; // 'infinity', '-infinity'
                break;
            }
            const std::int64_t shifted = std::int64_t{days} + epoch_days;
            if (shifted >= max || shifted <= -max)
                return fail(kind::unrepresentable, column, "a date out of Parquet DATE's range");
            f.i32 = static_cast<std::int32_t>(shifted);
            break;
        }
        case pg_binary_kind::timestamp: {
            const auto micros = big_endian<std::int64_t>(v.data());
            constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
            f.type = pg_field::tag::i64;
            if (micros == max || micros == std::numeric_limits<std::int64_t>::min()) {
                f.i64 = micros == max ? max : -max; // 'infinity', '-infinity'
                break;
            }
            if (micros >= max - epoch_micros)
                return fail(kind::unrepresentable, column,
                            "a timestamp after 294247-01-10 04:00:54.775806: out of Parquet TIMESTAMP(MICROS)'s range");
            f.i64 = micros + epoch_micros;
            break;
        }
        case pg_binary_kind::uuid:
        case pg_binary_kind::bytes:
            f.type = pg_field::tag::bytes;
            f.bytes = v;
            break;
        case pg_binary_kind::jsonb:
            if (v.empty() || v[0] != 1)
                return fail(kind::malformed, column, "a jsonb field without its version byte 1");
            f.type = pg_field::tag::bytes;
            f.bytes = v.substr(1);
            break;
        }
    }
    ++rows_;
    return pg_binary_status::row;
}

} // namespace pgexport::engine::detail
