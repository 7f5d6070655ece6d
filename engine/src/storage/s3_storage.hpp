#pragma once
// --storage s3://BUCKET/PREFIX: finished exports in S3-compatible object storage, uploaded by multipart
// upload, each acknowledged part recorded in the job's checkpoint under the lease (a resume goes on after
// them), the upload completed only after `publishing` was recorded, aborted only after the job's end was.
// Requests run on threads of the store's own (s3_client is blocking, libcurl).

#include "policy/multipart_plan.hpp"
#include "s3/s3_client.hpp"
#include "storage/export_storage.hpp"

#include <boost/asio/thread_pool.hpp>

namespace pgexport::engine::detail {

class s3_storage final : public export_storage {
public:
    s3_storage(storage_services services, const s3_storage_config& config);
    ~s3_storage() override;

    boost::asio::awaitable<stored_prefix> async_prepare(job_context& job, std::int64_t bytes, bool streaming) override;
    std::unique_ptr<part_uploader> start_uploader(job_context& job, std::filesystem::path file,
                                                  std::int64_t bytes) override;
    boost::asio::awaitable<void> async_stage(job_context& job, const std::filesystem::path& part,
                                             std::int64_t bytes) override;
    boost::asio::awaitable<std::string> async_publish(job_context& job, const std::filesystem::path& part,
                                                      std::int64_t bytes) override;
    std::string location_of(const std::string& id) const override { return client_.object_url(client_.object_key(id)); }
    boost::asio::awaitable<published_facts> async_published(job_context& job, std::int64_t bytes) override;
    boost::asio::awaitable<void> async_discard(job_context& job) override;
    boost::asio::awaitable<std::int64_t> async_remove(std::vector<std::string> ids) override;
    std::optional<std::string> redirect_for(const job_info& job, std::chrono::seconds ttl) const override;
    boost::asio::awaitable<std::optional<std::string>> async_problem() override;

    // Sends bytes `range` of `file` as the next part of the job's upload and records it in the job's
    // checkpoint (`plan` and job.upload too). Ends with operation_aborted when the job must stop, or when
    // the record finds the lease gone.
    boost::asio::awaitable<void> async_send_part(job_context& job, const std::filesystem::path& file,
                                                 multipart_plan& plan, part_range range);
    std::int64_t part_size() const { return static_cast<std::int64_t>(client_.config().part_size); }
    const storage_services& services() const { return services_; }

private:
    // The upload the job's checkpoint recorded, read once per run of the job.
    boost::asio::awaitable<void> async_load_upload(job_context& job);
    // The upload as it stands (or none) into the job's checkpoint, under the lease.
    boost::asio::awaitable<void> async_record(job_context& job);
    // f() on the storage threads; a store out of reach becomes unavailable_error (the job waits for it,
    // however long), a refusal stays s3_error (the job fails with S3's reason).
    template <class F> auto run(F f) -> boost::asio::awaitable<std::invoke_result_t<F&>>;

    storage_services services_;
    s3_client client_;
    boost::asio::thread_pool pool_{2};        // the uploads; at most one request per running job
    boost::asio::thread_pool health_pool_{1}; // /healthz's check, behind no upload
};

} // namespace pgexport::engine::detail
