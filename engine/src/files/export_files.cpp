#include "files/export_files.hpp"

#include "policy/sweep_policy.hpp"

namespace fs = std::filesystem;

namespace pgexport::engine::detail {

fs::path export_files::part(const std::string& id, std::optional<std::int64_t> token) const {
    if (!token)
        return dir_ / (id + ".csv.part");
    return dir_ / (id + "." + std::to_string(*token) + ".csv.part");
}

fs::path export_files::slice(const std::string& id, std::int64_t token, std::size_t k) const {
    return dir_ / (id + "." + std::to_string(token) + ".s" + std::to_string(k) + ".csv.part");
}

fs::path export_files::final(const std::string& id) const {
    return dir_ / (id + ".csv");
}

int export_files::remove_older_leases(const std::string& id, std::int64_t token) const {
    return remove_partials_if(id, token);
}

int export_files::remove_all_but_part(const std::string& id, std::int64_t token) const {
    return remove_partials_if(id, token + 1, part(id, token));
}

int export_files::remove_partials(const std::string& id) const {
    return remove_partials_if(id, std::nullopt);
}

int export_files::remove_partials_if(const std::string& id, std::optional<std::int64_t> older_than,
                                     const fs::path& keep) const {
    int removed = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with(id))
            continue;
        const auto file = parse_export_file_name(name);
        if (!file || file->job_id != id || file->kind != export_file_kind::partial)
            continue;
        if (older_than && file->token && *file->token >= *older_than)
            continue;
        if (it->path() == keep)
            continue;
        std::error_code ignored;
        if (fs::remove(it->path(), ignored))
            ++removed;
    }
    return removed;
}

} // namespace pgexport::engine::detail
