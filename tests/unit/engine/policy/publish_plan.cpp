// Publishing in fenced steps, as a pure state machine: every crash point, and a stale holder interleaved
// with the lease that took the job over, end in the same finished bytes. No I/O: the data directory and
// the job's record are modelled here; the decisions are the product's (plan_publish, plan_resume,
// published_file_matches).

#include "policy/job_policy.hpp"
#include "policy/publish_plan.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>

using namespace pgexport::engine::detail;

namespace pgexport::engine::detail {
std::ostream& operator<<(std::ostream& out, publish_action a) {
    const char* names[] = {"complete", "publish", "start_over", "refuse"};
    return out << names[static_cast<int>(a)];
}
} // namespace pgexport::engine::detail

namespace {

// The shared data directory and the job's record.
struct world {
    std::map<std::string, std::string> files; // "part.<token>", "final"
    std::int64_t lease = 0;                   // the token of the lease the record holds
    std::optional<publish_record> publishing;
    bool completed = false;
    int final_created = 0; // how often a file was given the final name (a link that made it)

    static std::string part(std::int64_t token) { return "part." + std::to_string(token); }
    std::int64_t length(const std::string& name) const {
        auto it = files.find(name);
        return it == files.end() ? -1 : static_cast<std::int64_t>(it->second.size());
    }
};

// The steps of one lease's publishing, in order; a holder stops before the step it crashes at.
enum step { write_part, record_publishing, link_final, record_completed, remove_partials, done };

// A holder of lease `token` whose export, were it to run now, would be `fresh` (the data may have changed
// since another lease exported: chunked exports read each chunk when it runs).
struct holder {
    std::int64_t token;
    std::string fresh;
    bool refused = false;

    // Fenced: only while the record's lease is ours.
    bool fenced(world& w) const { return w.lease == token && !w.completed; }

    // Runs the protocol from `from` up to (not including) `until`. Returns the step it stopped at.
    step run(world& w, step from, step until) {
        step s = from;
        for (; s < until && s != done; s = static_cast<step>(s + 1)) {
            switch (s) {
            case write_part:
                // Resume decides what this lease's file holds (publish_plan / plan_resume).
                if (w.publishing) {
                    const publish_record rec = *w.publishing;
                    publish_facts facts{rec, w.length("final"), w.length(world::part(rec.token)), false};
                    const publish_decision d = plan_publish(facts);
                    if (d.action == publish_action::complete) {
                        s = record_completed;
                        return run(w, record_completed, until);
                    }
                    if (d.action != publish_action::publish) {
                        refused = true;
                        return done;
                    }
                    // The recorded bytes, copied into this lease's own file; published as they are.
                    w.files[world::part(token)] = w.files.at(world::part(rec.token)).substr(0, rec.bytes);
                    return run(w, link_final, until);
                }
                w.files[world::part(token)] = fresh;
                break;
            case record_publishing:
                if (!fenced(w))
                    return done; // the lease is gone: stop, touch nothing more
                w.publishing = publish_record{token, w.length(world::part(token))};
                break;
            case link_final: {
                if (!w.files.contains(world::part(token)))
                    return done; // removed by a newer lease: this one is stale
                if (w.files.contains("final")) {
                    if (!published_file_matches(w.length("final"), w.publishing->bytes)) {
                        refused = true;
                        return done;
                    }
                } else {
                    w.files["final"] = w.files.at(world::part(token));
                    ++w.final_created;
                }
                break;
            }
            case record_completed:
                if (!fenced(w))
                    return done;
                w.completed = true;
                break;
            case remove_partials:
                for (auto it = w.files.begin(); it != w.files.end();)
                    it = it->first.starts_with("part.") ? w.files.erase(it) : std::next(it);
                break;
            case done:
                break;
            }
        }
        return s;
    }
};

// The lease passes to `token` (a takeover: the previous holder's lease ran out).
void take_over(world& w, std::int64_t token) {
    w.lease = token;
}

} // namespace

BOOST_AUTO_TEST_SUITE(publish_plan)

BOOST_AUTO_TEST_CASE(every_crash_point_ends_in_the_same_bytes) {
    // A crashes before step `crash`; B takes over and runs to the end. Once A recorded `publishing`, the
    // export is A's bytes whatever B would export now; before that, B's fresh export.
    for (int crash = write_part; crash <= done; ++crash) {
        BOOST_TEST_CONTEXT("A crashes before step " << crash) {
            world w;
            take_over(w, 1);
            holder a{1, "AAAA"};
            a.run(w, write_part, static_cast<step>(crash));
            take_over(w, 2);
            holder b{2, "BBBBBBBB"};
            if (!w.completed)
                b.run(w, write_part, done);
            BOOST_TEST(!a.refused);
            BOOST_TEST(!b.refused);
            BOOST_TEST(w.completed);
            const bool recorded_by_a = crash > record_publishing;
            BOOST_TEST(w.files.at("final") == (recorded_by_a ? "AAAA" : "BBBBBBBB"));
            BOOST_TEST(w.final_created == 1);
            if (crash == done) // A finished: B found nothing to do and left everything as it was
                BOOST_TEST(w.publishing->token == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_resumed_lease_crashing_again_keeps_the_bytes) {
    // A records publishing and crashes; B resumes and crashes at each of its own steps; C finishes.
    for (int crash = write_part; crash <= done; ++crash) {
        BOOST_TEST_CONTEXT("B crashes before step " << crash) {
            world w;
            take_over(w, 1);
            holder a{1, "AAAA"};
            a.run(w, write_part, link_final);
            take_over(w, 2);
            holder b{2, "BBBBBBBB"};
            b.run(w, write_part, static_cast<step>(crash));
            take_over(w, 3);
            holder c{3, "CCCCCCCCCCCC"};
            if (!w.completed)
                c.run(w, write_part, done);
            BOOST_TEST(w.completed);
            BOOST_TEST(w.files.at("final") == "AAAA");
            BOOST_TEST(w.final_created == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_stale_holder_that_recorded_publishing_links_the_same_bytes) {
    // A records publishing, then pauses past its lease; B takes over and publishes A's recorded bytes;
    // A wakes and links: the final file is there with the same bytes, never replaced; A's completion is
    // refused by the fence.
    for (bool b_first : {true, false}) {
        BOOST_TEST_CONTEXT((b_first ? "B links first" : "A links first")) {
            world w;
            take_over(w, 1);
            holder a{1, "AAAA"};
            a.run(w, write_part, link_final);
            take_over(w, 2);
            holder b{2, "BBBBBBBB"};
            if (b_first) {
                b.run(w, write_part, remove_partials); // B links and completes, its partials not yet removed
                a.run(w, link_final, done);
                b.run(w, remove_partials, done);
            } else {
                a.run(w, link_final, record_completed); // A links late, then stops
                b.run(w, write_part, done);
                a.run(w, record_completed, done);
            }
            BOOST_TEST(!a.refused);
            BOOST_TEST(!b.refused);
            BOOST_TEST(w.completed);
            BOOST_TEST(w.files.at("final") == "AAAA");
            BOOST_TEST(w.final_created == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_stale_holder_without_the_record_never_publishes) {
    // A wrote its whole file but lost the lease before recording publishing: B exports and publishes its
    // own bytes; A's fenced record is refused, so A never links.
    world w;
    take_over(w, 1);
    holder a{1, "AAAA"};
    a.run(w, write_part, record_publishing);
    take_over(w, 2);
    holder b{2, "BBBBBBBB"};
    b.run(w, write_part, done);
    const step stopped = a.run(w, record_publishing, done);
    BOOST_TEST(stopped == done);
    BOOST_TEST(w.completed);
    BOOST_TEST(w.files.at("final") == "BBBBBBBB");
    BOOST_TEST(w.final_created == 1);
}

BOOST_AUTO_TEST_CASE(decisions) {
    const publish_record rec{7, 100};
    struct item {
        publish_facts facts;
        publish_action action;
        const char* what;
    };
    const item cases[] = {
        {{rec, 100, -1, false}, publish_action::complete, "published, completion not recorded"},
        {{rec, 100, 100, false}, publish_action::complete, "published, partial file still there"},
        {{rec, -1, 100, false}, publish_action::publish, "recorded, not linked yet"},
        {{rec, -1, 150, false}, publish_action::publish, "the recorded file is longer: its first bytes count"},
        {{rec, -1, -1, true}, publish_action::publish, "object storage: the recorded upload holds every byte"},
        {{rec, -1, -1, false}, publish_action::start_over, "the recorded file is gone"},
        {{rec, -1, 99, false}, publish_action::start_over, "the recorded file lost bytes"},
        {{rec, 99, 100, false}, publish_action::refuse, "a finished file of other bytes: never replaced"},
        {{rec, 101, -1, true}, publish_action::refuse, "an object of another length"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            const publish_decision d = plan_publish(c.facts);
            BOOST_TEST(d.action == c.action);
            BOOST_TEST(d.reason.empty() == (c.action == publish_action::complete || c.action == publish_action::publish));
        }
    }
    BOOST_TEST(published_file_matches(100, 100));
    BOOST_TEST(!published_file_matches(0, 100));
}

BOOST_AUTO_TEST_CASE(record_round_trip) {
    const publish_record r{42, 1234567890123};
    BOOST_TEST((publish_record_from_json(to_json(r)) == std::optional<publish_record>(r)));
    BOOST_TEST(!publish_record_from_json("{\"token\":1}"));
    BOOST_TEST(!publish_record_from_json("{\"token\":1,\"bytes\":-5}"));
    BOOST_TEST(!publish_record_from_json("not json"));
    BOOST_TEST(!publish_record_from_json("[1,2]"));
}

BOOST_AUTO_TEST_SUITE_END()
