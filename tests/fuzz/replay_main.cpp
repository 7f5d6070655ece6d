// A driver for builds without libFuzzer (the normal test suite): runs every file of the corpus
// directories given on the command line, then `--mutations N` inputs made from them by simple seeded
// mutations (byte flips, insertions, truncations, splices). A short smoke pass, not real fuzzing:
// tools/test --fuzz runs libFuzzer itself. With `--expect-builder` it fails unless every file of the
// corpus reached the SQL builder (fuzz.hpp): seeds the target refuses would leave the builder unfuzzed.

#include "fuzz.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::vector<std::string> inputs;
    std::vector<std::string> names;
    long mutations = 20000;
    bool expect_builder = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--mutations" && i + 1 < argc) {
            mutations = std::atol(argv[++i]);
            continue;
        }
        if (arg == "--expect-builder") {
            expect_builder = true;
            continue;
        }
        std::vector<std::filesystem::directory_entry> files(std::filesystem::directory_iterator(arg), {});
        std::sort(files.begin(), files.end()); // the same mutations on every file system
        for (const auto& file : files) {
            std::ifstream in(file.path(), std::ios::binary);
            inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            names.push_back(file.path().filename().string());
        }
    }
    if (inputs.empty()) {
        inputs.emplace_back();
        names.emplace_back("(empty input)");
    }
    auto run = [](const std::string& s) {
        // In a buffer of exactly its size, as libFuzzer hands it: AddressSanitizer then sees a read past
        // the end, which a std::string's terminator and spare capacity would hide.
        const auto input = std::make_unique<std::uint8_t[]>(s.size());
        std::copy(s.begin(), s.end(), input.get());
        const std::size_t before = pgexport::fuzz::builder_inputs;
        LLVMFuzzerTestOneInput(input.get(), s.size());
        return pgexport::fuzz::builder_inputs > before;
    };
    std::size_t reached = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (run(inputs[i]))
            ++reached;
        else if (expect_builder)
            std::printf("corpus file %s did not reach the SQL builder\n", names[i].c_str());
    }
    if (expect_builder) {
        std::printf("%zu of %zu corpus files reached the SQL builder\n", reached, inputs.size());
        if (reached < inputs.size())
            return 1;
    }
    long mutations_reached = 0;
    std::mt19937_64 rng(12345);
    for (long n = 0; n < mutations; ++n) {
        std::string s = inputs[rng() % inputs.size()];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = s.empty() ? 0 : rng() % s.size();
            switch (rng() % 5) {
            case 0:
                if (!s.empty())
                    s[at] = static_cast<char>(rng());
                break;
            case 1:
                s.insert(at, 1, static_cast<char>(rng()));
                break;
            case 2:
                if (!s.empty())
                    s.erase(at, 1 + rng() % 8);
                break;
            case 3:
                s.resize(at);
                break;
            default: {
                const std::string& other = inputs[rng() % inputs.size()];
                if (!other.empty())
                    s.insert(at, other.substr(rng() % other.size(), 1 + rng() % 16));
            }
            }
        }
        mutations_reached += run(s);
    }
    std::printf("%zu corpus inputs and %ld mutations ran clean\n", inputs.size(), mutations);
    if (pgexport::fuzz::builder_inputs > 0)
        std::printf("%ld of the mutations reached the SQL builder\n", mutations_reached);
    return 0;
}
