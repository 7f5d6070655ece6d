#include "runtime/engine_state.hpp"

#include <algorithm>

namespace fs = std::filesystem;

namespace pgexport::engine::detail {

void running_job::interrupt() {
    if (connection)
        connection->cancel();
    for (auto* c : slice_connections)
        if (c)
            c->cancel();
    for (auto& t : slice_pauses)
        if (t)
            t->cancel();
    if (backoff)
        backoff->cancel();
    if (pause)
        pause->cancel();
    if (uploader)
        uploader->interrupt();
}

void running_job::load_slices() {
    slices = job.slices;
    slices_sent = slices;
    slices_version.assign(slices.size(), 0);
    slices_sent_version.assign(slices.size(), 0);
    slices_live_bytes.assign(slices.size(), 0);
    slice_connections.assign(slices.size(), nullptr);
    slice_pauses.clear();
    slice_pauses.resize(slices.size());
}

void running_job::slices_held(const std::vector<slice_state>& sent, const std::vector<std::uint64_t>& versions) {
    for (std::size_t k = 0; k < slices.size() && k < sent.size(); ++k)
        if (versions[k] > slices_version[k]) {
            slices[k] = sent[k];
            slices_version[k] = versions[k];
        }
    const slice_totals t = totals_of(slices);
    rows = t.rows;
    bytes = t.bytes;
    last_id = watermark(slices);
    job.slices = slices;
}

void running_job::set_live_bytes(std::optional<std::size_t> slice, std::int64_t written) {
    if (!slice) {
        live_bytes = written;
        return;
    }
    slices_live_bytes.at(*slice) = written;
    std::int64_t sum = 0;
    for (const auto b : slices_live_bytes)
        sum += b;
    live_bytes = sum;
}

bool running_job::lease_answered(lease_state found, lease_tracker::clock::time_point sent_at) {
    const lease_verdict v = lease.answered(found, sent_at);
    if (v == lease_verdict::cancelled)
        cancel_requested = true;
    else if (v == lease_verdict::lost)
        lease_lost = true;
    return v == lease_verdict::held;
}

engine_state::engine_state(boost::asio::any_io_executor ex, engine_config cfg)
    : executor(std::move(ex)), config(std::move(cfg)),
      jobs(config.database_url, std::chrono::seconds(30), config.connect_timeout, config.lease),
      reads(config.database_url, std::chrono::seconds(30), config.connect_timeout, config.lease),
      catalog(config.database_url, std::chrono::seconds(30), config.connect_timeout),
      listings({config.database_url, config.records_connections, config.records_queue, config.records_timeout,
                config.connect_timeout}),
      health(config.database_url, std::chrono::seconds(5), config.connect_timeout),
      progress(std::make_shared<progress_hub>(executor)),
      storage(config.s3 ? make_s3_storage(*this) : make_directory_storage(*this)) {}

engine_state::~engine_state() {
    queue_pool.join();
    reads_pool.join();
    catalog_pool.join();
    file_pool.join();
    health_pool.join();
}

fs::path engine_state::part_path(const std::string& id, std::optional<std::int64_t> token) const {
    if (!token)
        return config.data_dir / (id + ".csv.part");
    return config.data_dir / (id + "." + std::to_string(*token) + ".csv.part");
}

fs::path engine_state::slice_path(const std::string& id, std::int64_t token, std::size_t slice) const {
    return config.data_dir / (id + "." + std::to_string(token) + ".s" + std::to_string(slice) + ".csv.part");
}

fs::path engine_state::final_path(const std::string& id) const {
    return config.data_dir / (id + ".csv");
}

void engine_state::remove_part_files(const std::string& id, const std::vector<fs::path>& keep) const {
    std::error_code ec;
    for (fs::directory_iterator it(config.data_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const bool kept = std::any_of(keep.begin(), keep.end(),
                                      [&](const fs::path& k) { return k.filename() == it->path().filename(); });
        if (name.starts_with(id + ".") && name.ends_with(".csv.part") && !kept) {
            std::error_code ignored;
            fs::remove(it->path(), ignored);
        }
    }
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
