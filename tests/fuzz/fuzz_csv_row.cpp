// Fuzz target: reading the key off a COPY row. Invariants: the rest is the row after "<key>,", and the
// key printed back is the text it was read from.

#include "format/csv_row.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace pgexport::engine::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view row(reinterpret_cast<const char*>(data), size);
    auto split = split_keyed_row(row);
    auto lead = leading_key(row);
    if (split && (!lead || *lead != split->key))
        std::abort(); // a row with a key and a comma has that leading key
    if (!split)
        return 0;
    const std::string key = std::to_string(split->key);
    const bool canonical = row.substr(0, key.size()) == key && row[key.size()] == ',';
    // Leading zeros ("007,") are accepted: then the text differs but the rest still follows the comma.
    if (split->rest.data() + split->rest.size() != row.data() + row.size())
        std::abort();
    if (canonical && split->rest.data() != row.data() + key.size() + 1)
        std::abort();
    (void)single_column_row(split->rest);
    return 0;
}
