#pragma once
// Reading back what the Parquet writer wrote, for the unit tests: a generic Thrift compact-protocol reader
// (fields by id, no schema) and an RLE/bit-packed hybrid decoder, written from the specifications
// independently of the writer's encoders. Throws std::runtime_error on anything malformed.

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pgexport::test::parquet_read {

// The bytes listed, e.g. bytes({0x15, 0x04}).
inline std::string bytes(std::initializer_list<int> list) {
    std::string out;
    for (const int b : list)
        out.push_back(static_cast<char>(b));
    return out;
}

struct value;
using fields = std::map<int, value>;

struct value {
    std::variant<std::monostate, bool, std::int64_t, double, std::string, std::vector<value>, fields> held;

    std::int64_t integer() const { return std::get<std::int64_t>(held); }
    bool boolean() const { return std::get<bool>(held); }
    const std::string& bytes() const { return std::get<std::string>(held); }
    const std::vector<value>& list() const { return std::get<std::vector<value>>(held); }
    const fields& structure() const { return std::get<fields>(held); }
};

class compact_reader {
public:
    explicit compact_reader(std::string_view in) : in_(in) {}

    fields read_struct() {
        fields out;
        int last = 0;
        for (;;) {
            const auto header = byte();
            if (header == 0)
                return out;
            const int delta = header >> 4;
            const int type = header & 0x0F;
            const int id = delta != 0 ? last + delta : static_cast<int>(zigzag());
            last = id;
            if (type == 1 || type == 2)
                out[id] = value{type == 1};
            else
                out[id] = read_value(type);
        }
    }

    std::size_t position() const { return at_; }

private:
    value read_value(int type) {
        switch (type) {
        case 3:
            return value{static_cast<std::int64_t>(static_cast<std::int8_t>(byte()))};
        case 4:
        case 5:
        case 6:
            return value{zigzag()};
        case 7: {
            std::uint64_t bits = 0;
            for (int i = 0; i < 8; ++i)
                bits |= static_cast<std::uint64_t>(byte()) << (8 * i);
            double d;
            std::memcpy(&d, &bits, 8);
            return value{d};
        }
        case 8: {
            const auto size = varint();
            if (size > in_.size() - at_)
                throw std::runtime_error("thrift: binary past the end");
            std::string s(in_.substr(at_, size));
            at_ += size;
            return value{std::move(s)};
        }
        case 9:
        case 10: {
            const auto header = byte();
            std::uint64_t size = header >> 4;
            if (size == 15)
                size = varint();
            const int element = header & 0x0F;
            std::vector<value> items;
            for (std::uint64_t i = 0; i < size; ++i)
                items.push_back(element == 1 || element == 2 ? value{byte() == 1} : read_value(element));
            return value{std::move(items)};
        }
        case 12:
            return value{read_struct()};
        default:
            throw std::runtime_error("thrift: type " + std::to_string(type) + " not read here");
        }
    }

    std::uint8_t byte() {
        if (at_ >= in_.size())
            throw std::runtime_error("thrift: past the end");
        return static_cast<std::uint8_t>(in_[at_++]);
    }

    std::uint64_t varint() {
        std::uint64_t result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const auto b = byte();
            result |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return result;
        }
        throw std::runtime_error("thrift: varint too long");
    }

    std::int64_t zigzag() {
        const auto raw = varint();
        return static_cast<std::int64_t>(raw >> 1) ^ -static_cast<std::int64_t>(raw & 1);
    }

    std::string_view in_;
    std::size_t at_ = 0;
};

// `count` values of `width` bits from the hybrid encoding in `in` (no length prefix).
inline std::vector<std::uint32_t> decode_rle_hybrid(std::string_view in, int width, std::size_t count) {
    std::vector<std::uint32_t> out;
    std::size_t at = 0;
    auto byte = [&]() -> std::uint32_t {
        if (at >= in.size())
            throw std::runtime_error("rle: past the end");
        return static_cast<std::uint8_t>(in[at++]);
    };
    while (out.size() < count) {
        std::uint64_t header = 0;
        for (int shift = 0;; shift += 7) {
            const auto b = byte();
            header |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                break;
        }
        if (header & 1) {
            const std::size_t values = (header >> 1) * 8;
            std::uint64_t bits = 0;
            int held = 0;
            for (std::size_t i = 0; i < values; ++i) {
                while (held < width) {
                    bits |= static_cast<std::uint64_t>(byte()) << held;
                    held += 8;
                }
                const auto v = static_cast<std::uint32_t>(bits & ((std::uint64_t{1} << width) - 1));
                bits >>= width;
                held -= width;
                if (out.size() < count)
                    out.push_back(v);
            }
        } else {
            std::uint32_t v = 0;
            for (int i = 0; i < (width + 7) / 8; ++i)
                v |= byte() << (8 * i);
            for (std::uint64_t i = 0; i < (header >> 1) && out.size() < count; ++i)
                out.push_back(v);
        }
    }
    return out;
}

} // namespace pgexport::test::parquet_read
