#include "runtime/engine_state.hpp"

#include "storage/export_storage.hpp"

#include <algorithm>

namespace fs = std::filesystem;

namespace pgexport::engine::detail {

engine_state::engine_state(boost::asio::any_io_executor ex, engine_config cfg)
    : executor(std::move(ex)), config(std::move(cfg)),
      store(config.database_url, config.connect_timeout, config.lease),
      catalog(config.database_url, std::chrono::seconds(30), config.connect_timeout),
      listings({config.database_url, config.records_connections, config.records_queue, config.records_timeout,
                config.connect_timeout}),
      // As many as its jobs may hold at once: keeping them adds no connection to the instance's budget.
      rows_sessions(static_cast<std::size_t>(std::max(0, config.max_concurrent)) *
                        static_cast<std::size_t>(std::max(1, config.max_parallelism)),
                    config.warm_session_idle),
      health(config.database_url, std::chrono::seconds(5), config.connect_timeout), files(config.data_dir),
      progress(std::make_shared<progress_hub>(executor)) {
    storage_services services{executor, file_pool, store, files};
    storage = config.s3 ? make_s3_storage(services, *config.s3) : make_directory_storage(services);
}

engine_state::~engine_state() {
    storage.reset(); // its threads first: they may still record an upload in the job store
    catalog_pool.join();
    file_pool.join();
    health_pool.join();
}

std::vector<std::string> engine_state::tables() const {
    std::vector<std::string> names;
    for (const auto& s : schemas)
        names.push_back(s.table);
    return names;
}

const table_schema* engine_state::find_schema(const std::optional<std::string>& name) const {
    if (!name)
        return schemas.empty() ? nullptr : &schemas.front();
    for (std::size_t i = 0; i < schemas.size(); ++i)
        if (schemas[i].table == *name || (i < configured_names.size() && configured_names[i] == *name))
            return &schemas[i];
    return nullptr;
}

void engine_state::remember_if_ended(const job_info& info) {
    if (info.status == job_status::queued || info.status == job_status::running)
        return;
    ended_read_at[info.id] = std::chrono::steady_clock::now();
    if (auto [it, inserted] = ended.try_emplace(info.id, info); !inserted) {
        it->second = info;
    } else {
        ended_order.push_back(info.id);
        if (ended_order.size() > max_remembered) {
            ended.erase(ended_order.front());
            ended_read_at.erase(ended_order.front());
            ended_order.pop_front();
        }
    }
}

void engine_state::forget(const std::string& id) {
    ended_read_at.erase(id);
    if (ended.erase(id))
        ended_order.erase(std::find(ended_order.begin(), ended_order.end(), id));
}

const job_info* engine_state::fresh_ended(const std::string& id) const {
    auto at = ended_read_at.find(id);
    if (at == ended_read_at.end() || std::chrono::steady_clock::now() - at->second >= ended_freshness)
        return nullptr;
    auto it = ended.find(id);
    return it == ended.end() ? nullptr : &it->second;
}

} // namespace pgexport::engine::detail
