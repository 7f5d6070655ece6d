#pragma once
// What a job_watch holds: its subscription to the engine's progress hub.

#include "runtime/progress_hub.hpp"

#include <pgexport/job_watch.hpp>

#include <memory>

namespace pgexport::engine {

struct job_watch::impl {
    std::unique_ptr<detail::progress_subscription> subscription;
};

} // namespace pgexport::engine
