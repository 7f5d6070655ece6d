// Server-Sent Events: the framing (data split into lines) and the pacing of the events stream.
#include "sse.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace pgexport::http;
using pgexport::engine::job_status;
using namespace std::chrono_literals;
using send = event_pacer::send;

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(data_is_split_into_one_data_line_per_line) {
    struct row {
        const char* data;
        const char* framed;
    };
    const std::vector<row> rows = {
        {R"({"a":1})", "event: progress\ndata: {\"a\":1}\n\n"},
        {"", "event: progress\ndata: \n\n"},
        {"one\ntwo", "event: progress\ndata: one\ndata: two\n\n"},
        {"one\r\ntwo", "event: progress\ndata: one\ndata: two\n\n"},
        {"one\rtwo", "event: progress\ndata: one\ndata: two\n\n"},
        {"one\n\ntwo", "event: progress\ndata: one\ndata: \ndata: two\n\n"},
        {"one\r\n\rtwo\r", "event: progress\ndata: one\ndata: \ndata: two\ndata: \n\n"},
        {"trailing\n", "event: progress\ndata: trailing\ndata: \n\n"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("data " << r.data) {
            BOOST_TEST(sse_event("progress", r.data) == r.framed);
        }
    }
}

BOOST_AUTO_TEST_CASE(comments_start_with_a_colon) {
    BOOST_TEST(sse_comment("ping") == ": ping\n\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pacing)

const event_pacing pacing{1000ms, 200ms, 15000ms};
const auto t0 = event_pacer::clock::time_point{} + 1h;

BOOST_AUTO_TEST_CASE(the_first_look_sends_progress_and_an_ended_job_its_final_event) {
    event_pacer queued(t0, pacing);
    BOOST_TEST((queued.step(t0, job_status::queued, "q") == send::progress));
    for (auto status : {job_status::completed, job_status::failed, job_status::cancelled, job_status::expired}) {
        BOOST_TEST_CONTEXT("status " << pgexport::engine::to_string(status)) {
            event_pacer ended(t0, pacing);
            BOOST_TEST((ended.step(t0, status, "x") == send::final_event));
            BOOST_TEST(is_final(status));
        }
    }
    BOOST_TEST(!is_final(job_status::queued));
    BOOST_TEST(!is_final(job_status::running));
}

BOOST_AUTO_TEST_CASE(a_change_of_status_is_sent_at_once_and_progress_at_most_every_min_gap) {
    event_pacer p(t0, pacing);
    BOOST_TEST((p.step(t0, job_status::queued, "q") == send::progress));
    BOOST_TEST((p.step(t0 + 1ms, job_status::running, "r0") == send::progress)); // status changed
    BOOST_TEST((p.step(t0 + 50ms, job_status::running, "r1") == send::nothing));  // too soon
    BOOST_TEST((p.next_look(t0 + 50ms) == 151ms));                               // when the gap ends
    BOOST_TEST((p.step(t0 + 201ms, job_status::running, "r1") == send::progress)); // the held change
    BOOST_TEST((p.step(t0 + 250ms, job_status::completed, "c") == send::final_event)); // never held back
}

BOOST_AUTO_TEST_CASE(a_running_job_gets_progress_at_least_every_progress_every_even_unchanged) {
    event_pacer p(t0, pacing);
    BOOST_TEST((p.step(t0, job_status::running, "r") == send::progress));
    BOOST_TEST((p.next_look(t0) == 1000ms));
    BOOST_TEST((p.step(t0 + 500ms, job_status::running, "r") == send::nothing));
    BOOST_TEST((p.next_look(t0 + 500ms) == 500ms));
    BOOST_TEST((p.step(t0 + 1000ms, job_status::running, "r") == send::progress));
}

BOOST_AUTO_TEST_CASE(a_queued_job_waits_for_its_change_of_state_and_is_pinged_every_fifteen) {
    // Its claim or cancel wakes the stream (job_watch): the looks are only the fallback, a ping apart.
    event_pacer p(t0, pacing);
    BOOST_TEST((p.step(t0, job_status::queued, "q") == send::progress));
    BOOST_TEST((p.next_look(t0) == 15000ms));
    for (int s = 1; s < 15; ++s) {
        BOOST_TEST_CONTEXT("second " << s) {
            BOOST_TEST((p.step(t0 + s * 1s, job_status::queued, "q") == send::nothing)); // woken, no change
            BOOST_TEST((p.next_look(t0 + s * 1s) == 15000ms - s * 1000ms));
        }
    }
    BOOST_TEST((p.step(t0 + 15s, job_status::queued, "q") == send::ping));
    BOOST_TEST((p.step(t0 + 16s, job_status::queued, "q") == send::nothing));
    BOOST_TEST((p.step(t0 + 17s, job_status::queued, "q2") == send::progress)); // its record changed
}

BOOST_AUTO_TEST_CASE(an_unreadable_job_only_gets_pings) {
    event_pacer p(t0, pacing);
    BOOST_TEST((p.step(t0 + 1s, std::nullopt, "") == send::nothing));
    BOOST_TEST((p.step(t0 + 15s, std::nullopt, "") == send::ping));
    BOOST_TEST((p.step(t0 + 16s, job_status::running, "r") == send::progress));
}

BOOST_AUTO_TEST_CASE(the_next_look_is_never_negative) {
    event_pacer p(t0, pacing);
    BOOST_TEST((p.step(t0, job_status::running, "r") == send::progress));
    BOOST_TEST((p.next_look(t0 + 5s) == event_pacer::clock::duration::zero()));
}

BOOST_AUTO_TEST_SUITE_END()
