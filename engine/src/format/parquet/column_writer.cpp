#include "format/parquet/column_writer.hpp"

#include "format/parquet/rle_hybrid.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pgexport::engine::detail::parquet {

namespace {

template <class T> void append_little_endian(T value, std::string& out) {
    using U = std::make_unsigned_t<T>;
    const auto bits = static_cast<U>(value);
    for (std::size_t byte = 0; byte < sizeof(T); ++byte)
        out.push_back(static_cast<char>((bits >> (8 * byte)) & 0xFF));
}

template <class T> T from_little_endian(std::string_view bytes) {
    using U = std::make_unsigned_t<T>;
    U bits = 0;
    for (std::size_t byte = 0; byte < sizeof(T); ++byte)
        bits |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(bytes[byte])) << (8 * byte));
    return static_cast<T>(bits);
}

double float_value(std::string_view plain) {
    return plain.size() == 4 ? std::bit_cast<float>(from_little_endian<std::uint32_t>(plain))
                             : std::bit_cast<double>(from_little_endian<std::uint64_t>(plain));
}

// Whether `a` orders before `b` (both PLAIN bytes of one column; no NaN).
bool less(sort_order order, std::string_view a, std::string_view b) {
    switch (order) {
    case sort_order::boolean:
    case sort_order::unsigned_bytes:
        return a < b; // char_traits<char> compares as unsigned char
    case sort_order::signed_integer:
        return a.size() == 4 ? from_little_endian<std::int32_t>(a) < from_little_endian<std::int32_t>(b)
                             : from_little_endian<std::int64_t>(a) < from_little_endian<std::int64_t>(b);
    case sort_order::floating:
        return float_value(a) < float_value(b);
    case sort_order::signed_bytes: {
        // Big-endian two's complement of one length: the sign bit flipped, then unsigned.
        const auto first_a = static_cast<unsigned char>(a[0]) ^ 0x80;
        const auto first_b = static_cast<unsigned char>(b[0]) ^ 0x80;
        return first_a != first_b ? first_a < first_b : a.substr(1) < b.substr(1);
    }
    case sort_order::none:
        return false;
    }
    return false;
}

} // namespace

std::int32_t decimal_bytes(int precision) {
    for (std::int32_t bytes = 1; bytes <= 16; ++bytes) {
        const uint128 largest = (uint128{1} << (8 * bytes - 1)) - 1;
        if (powers_of_ten[static_cast<std::size_t>(precision)] - 1 <= largest)
            return bytes;
    }
    throw std::invalid_argument("a DECIMAL's precision must be at most 38");
}

column_writer::column_writer(column_spec spec, const page_limits& limits, page_codec& codec)
    : spec_(std::move(spec)), limits_(limits), codec_(codec), order_(order_of(spec_)),
      dictionary_allowed_(spec_.type != physical_type::boolean && limits_.dictionary_bytes > 0),
      dictionary_mode_(dictionary_allowed_), dictionary_(spec_.type == physical_type::byte_array) {}

void column_writer::append_null() {
    if (!spec_.nullable)
        throw std::logic_error("a null in the required Parquet column " + spec_.name);
    ++null_count_;
    levels_.push_back(0);
    ++page_values_;
    end_value();
}

void column_writer::append_bool(bool value) {
    if (spec_.type != physical_type::boolean)
        throw std::logic_error("a boolean for the Parquet column " + spec_.name);
    booleans_.push_back(value ? 1 : 0);
    const char plain = value ? 1 : 0;
    update_statistics({&plain, 1});
    if (spec_.nullable)
        levels_.push_back(1);
    ++page_values_;
    ++page_non_null_;
    end_value();
}

void column_writer::append_int32(std::int32_t value) {
    if (spec_.type != physical_type::int32)
        throw std::logic_error("an int32 for the Parquet column " + spec_.name);
    append_fixed(static_cast<std::uint32_t>(value));
}

void column_writer::append_int64(std::int64_t value) {
    if (spec_.type != physical_type::int64)
        throw std::logic_error("an int64 for the Parquet column " + spec_.name);
    append_fixed(static_cast<std::uint64_t>(value));
}

void column_writer::append_float(float value) {
    if (spec_.type != physical_type::float32)
        throw std::logic_error("a float for the Parquet column " + spec_.name);
    append_fixed(std::bit_cast<std::uint32_t>(value));
}

void column_writer::append_double(double value) {
    if (spec_.type != physical_type::float64)
        throw std::logic_error("a double for the Parquet column " + spec_.name);
    append_fixed(std::bit_cast<std::uint64_t>(value));
}

template <class Bits> void column_writer::append_fixed(Bits bits) {
    char plain[sizeof(Bits)];
    for (std::size_t byte = 0; byte < sizeof(Bits); ++byte)
        plain[byte] = static_cast<char>((bits >> (8 * byte)) & 0xFF);
    append_value({plain, sizeof(Bits)});
}

void column_writer::append_decimal(int128 unscaled) {
    if (spec_.logical != logical_type::decimal)
        throw std::logic_error("a decimal for the Parquet column " + spec_.name);
    const uint128 magnitude = unscaled < 0 ? -static_cast<uint128>(unscaled) : static_cast<uint128>(unscaled);
    if (magnitude >= powers_of_ten[static_cast<std::size_t>(spec_.precision)])
        throw std::invalid_argument("a decimal with more digits than the precision of " + spec_.name);
    switch (spec_.type) {
    case physical_type::int32:
        append_int32(static_cast<std::int32_t>(unscaled));
        return;
    case physical_type::int64:
        append_int64(static_cast<std::int64_t>(unscaled));
        return;
    case physical_type::fixed_len_byte_array: {
        // Big-endian two's complement, the low type_length bytes (the precision guarantees they hold it).
        char plain[16];
        const auto bits = static_cast<uint128>(unscaled);
        const auto n = static_cast<std::size_t>(spec_.type_length);
        for (std::size_t i = 0; i < n; ++i)
            plain[n - 1 - i] = static_cast<char>(static_cast<unsigned>(bits >> (8 * i)) & 0xFF);
        append_value({plain, n});
        return;
    }
    default:
        throw std::logic_error("a DECIMAL column of a physical type the writer does not use: " + spec_.name);
    }
}

void column_writer::append_bytes(std::string_view value) {
    if (spec_.type == physical_type::fixed_len_byte_array) {
        if (value.size() != static_cast<std::size_t>(spec_.type_length))
            throw std::invalid_argument("a value of " + std::to_string(value.size()) + " bytes for the " +
                                        std::to_string(spec_.type_length) + "-byte Parquet column " + spec_.name);
    } else if (spec_.type != physical_type::byte_array) {
        throw std::logic_error("bytes for the Parquet column " + spec_.name);
    }
    if (value.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::invalid_argument("a value over 2 GiB for the Parquet column " + spec_.name);
    append_value(value);
}

void column_writer::append_value(std::string_view plain) {
    update_statistics(plain);
    if (dictionary_mode_) {
        if (auto index = dictionary_.find_or_add(plain, limits_.dictionary_bytes)) {
            indices_.push_back(*index);
        } else {
            // The dictionary is full: the page so far stays dictionary-encoded, the rest is PLAIN.
            close_page();
            dictionary_mode_ = false;
            append_plain(plain);
        }
    } else {
        append_plain(plain);
    }
    if (spec_.nullable)
        levels_.push_back(1);
    ++page_values_;
    ++page_non_null_;
    // The first page's first values tell whether a dictionary pays: decided early, a column of distinct
    // values never builds one.
    if (dictionary_mode_ && page_non_null_ == dictionary_trial && first_page() && poor_dictionary())
        abandon_dictionary();
    end_value();
}

bool column_writer::first_page() const {
    return plain_pages_ + dictionary_pages_ == 0;
}

bool column_writer::poor_dictionary() const {
    return dictionary_.size() * 2 > page_non_null_;
}

void column_writer::abandon_dictionary() {
    for (const std::uint32_t index : indices_)
        append_plain(dictionary_.value(index));
    indices_.clear();
    dictionary_ = value_dictionary(spec_.type == physical_type::byte_array); // its memory released
    dictionary_mode_ = false;
}

void column_writer::append_plain(std::string_view plain) {
    if (spec_.type == physical_type::byte_array)
        append_little_endian(static_cast<std::uint32_t>(plain.size()), plain_);
    plain_.append(plain);
}

void column_writer::update_statistics(std::string_view plain) {
    if (statistics_dropped_)
        return;
    if (order_ == sort_order::floating && std::isnan(float_value(plain))) {
        ++nan_count_;
        return;
    }
    if ((order_ == sort_order::unsigned_bytes || order_ == sort_order::signed_bytes) &&
        plain.size() > limits_.statistics_bytes) {
        statistics_dropped_ = true;
        return;
    }
    // clear() and append() rather than assign(): GCC 12 warns falsely (-Wrestrict) on assign's inlined copy.
    if (!has_min_max_) {
        min_.clear();
        min_.append(plain);
        max_.clear();
        max_.append(plain);
        has_min_max_ = true;
    } else if (less(order_, plain, min_)) {
        min_.clear();
        min_.append(plain);
    } else if (less(order_, max_, plain)) {
        max_.clear();
        max_.append(plain);
    }
}

void column_writer::end_value() {
    ++values_;
    if (page_values_ >= limits_.page_values || page_estimate() >= limits_.page_bytes)
        close_page();
}

std::size_t column_writer::page_estimate() const {
    const std::size_t levels = levels_.size() / 8;
    if (dictionary_mode_)
        return levels + indices_.size() * static_cast<std::size_t>(dictionary_bit_width(dictionary_.size())) / 8;
    return levels + plain_.size() + booleans_.size() / 8;
}

void column_writer::close_page() {
    if (page_values_ == 0)
        return;
    if (dictionary_mode_ && dictionary_.size() > 0 && first_page() && poor_dictionary())
        abandon_dictionary(); // too many distinct values for a dictionary to pay: PLAIN from here on
    const bool dictionary_page = dictionary_mode_ && dictionary_.size() > 0;
    std::string& body = codec_.body();
    if (spec_.nullable) {
        body.append(4, '\0'); // the levels' length, once known
        append_rle_hybrid(levels_, 1, body);
        const auto length = static_cast<std::uint32_t>(body.size() - 4);
        for (int byte = 0; byte < 4; ++byte)
            body[static_cast<std::size_t>(byte)] = static_cast<char>((length >> (8 * byte)) & 0xFF);
    }
    if (dictionary_page) {
        const int width = dictionary_bit_width(dictionary_.size());
        body.push_back(static_cast<char>(width));
        append_rle_hybrid(indices_, width, body);
    } else if (spec_.type == physical_type::boolean) {
        append_bit_packed_bools(booleans_, body);
    } else {
        body.append(plain_);
    }
    write_page(page_kind::data, body, static_cast<std::int32_t>(page_values_),
               dictionary_page ? encoding::rle_dictionary : encoding::plain, pages_);
    ++(dictionary_page ? dictionary_pages_ : plain_pages_);
    levels_.clear();
    plain_.clear();
    booleans_.clear();
    indices_.clear();
    page_values_ = 0;
    page_non_null_ = 0;
}

void column_writer::write_page(page_kind kind, std::string_view body, std::int32_t values,
                                  encoding values_encoding, std::string& out) {
    const std::string_view compressed = codec_.compress(body);
    if (compressed.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) ||
        body.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::invalid_argument("a Parquet page over 2 GiB in the column " + spec_.name);
    const std::size_t before = out.size();
    append_page_header(kind, values, values_encoding, static_cast<std::int32_t>(body.size()),
                       static_cast<std::int32_t>(compressed.size()), out);
    uncompressed_ += static_cast<std::int64_t>(out.size() - before + body.size());
    out.append(compressed);
}

std::size_t column_writer::buffered_bytes() const {
    return pages_.capacity() + levels_.capacity() + plain_.capacity() + booleans_.capacity() +
           indices_.capacity() * sizeof(std::uint32_t) + dictionary_.memory() + min_.capacity() + max_.capacity();
}

std::size_t column_writer::encoded_bytes() const {
    return pages_.size() + page_estimate() + dictionary_.page().size();
}

column_chunk_info column_writer::finish_chunk(std::int64_t offset, std::string& out) {
    close_page();
    column_chunk_info info;
    info.values = values_;
    const std::size_t start = out.size();
    if (dictionary_pages_ > 0) {
        info.dictionary_page_offset = offset;
        write_page(page_kind::dictionary, dictionary_.page(), static_cast<std::int32_t>(dictionary_.size()),
                      encoding::plain, out);
    }
    info.data_page_offset = offset + static_cast<std::int64_t>(out.size() - start);
    out.append(pages_);
    info.compressed_bytes = static_cast<std::int64_t>(out.size() - start);
    info.uncompressed_bytes = uncompressed_;
    info.plain_pages = plain_pages_;
    info.dictionary_pages = dictionary_pages_;
    info.statistics.null_count = null_count_;
    if (order_ == sort_order::floating)
        info.statistics.nan_count = nan_count_;
    if (has_min_max_ && !statistics_dropped_) {
        if (order_ == sort_order::floating) {
            // parquet.thrift: a zero min is written -0.0 and a zero max +0.0, whichever zeros were seen.
            const bool single = spec_.type == physical_type::float32;
            auto zero = [single](bool negative) {
                std::string plain;
                if (single)
                    append_little_endian(std::bit_cast<std::uint32_t>(negative ? -0.0f : 0.0f), plain);
                else
                    append_little_endian(std::bit_cast<std::uint64_t>(negative ? -0.0 : 0.0), plain);
                return plain;
            };
            if (float_value(min_) == 0.0)
                min_ = zero(true);
            if (float_value(max_) == 0.0)
                max_ = zero(false);
        }
        info.statistics.min_value = min_;
        info.statistics.max_value = max_;
    }
    reset_chunk();
    return info;
}

void column_writer::reset_chunk() {
    dictionary_.clear();
    dictionary_mode_ = dictionary_allowed_;
    pages_ = std::string(); // released: the flushed row group holds these bytes now
    values_ = 0;
    uncompressed_ = 0;
    plain_pages_ = 0;
    dictionary_pages_ = 0;
    null_count_ = 0;
    nan_count_ = 0;
    has_min_max_ = false;
    statistics_dropped_ = false;
    min_.clear();
    max_.clear();
}

} // namespace pgexport::engine::detail::parquet
