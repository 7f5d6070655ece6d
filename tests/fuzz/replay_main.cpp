// A driver for builds without libFuzzer (the normal test suite): runs every file of the corpus
// directories given on the command line, then `--mutations N` inputs made from them by simple seeded
// mutations (byte flips, insertions, truncations, splices). A short smoke pass, not real fuzzing:
// tools/test --fuzz runs libFuzzer itself.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::vector<std::string> inputs;
    long mutations = 20000;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--mutations" && i + 1 < argc) {
            mutations = std::atol(argv[++i]);
            continue;
        }
        for (const auto& entry : std::filesystem::directory_iterator(arg)) {
            std::ifstream in(entry.path(), std::ios::binary);
            inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
    }
    if (inputs.empty())
        inputs.emplace_back();
    for (const auto& s : inputs)
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
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
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }
    std::printf("%zu corpus inputs and %ld mutations ran clean\n", inputs.size(), mutations);
    return 0;
}
