// asl-conformance: runs the AWS-recorded conformance corpus against the in-process interpreter,
// or through a Step Functions API server.
//
//   asl-conformance DIR [--category C] [--case TEXT] [--junit FILE] [--verbose]
//                       [--known-differences FILE] [--write-histories DIR]
//                       [--endpoint URL [--jobs N] [--idle-ms MS] [--case-timeout S]
//                                       [--access-key ID:SECRET] [--region R]]
//
// One line per failing case with its first difference, then "N passed, N failed, N skipped".
// Cases listed in the known-differences file are reported apart (not passed, not failed).
// With --endpoint the cases run concurrently on the server; the report is in case order all the
// same. Exit status: 0 when no case failed, 1 when one did, 2 on usage or I/O errors (or an
// endpoint that does not answer).
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl_conformance/conformance_case.h"
#include "asl_conformance/endpoint_engine.h"
#include "asl_conformance/runner.h"
#include "aws/sfn_client.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/random.h"
#include "common/uuid.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using hpd::conformance::CaseResult;
using hpd::conformance::ConformanceCase;
using hpd::conformance::Verdict;

constexpr int kExitOk = 0;
constexpr int kExitFailures = 1;
constexpr int kExitUsage = 2;

struct Outcome {
  std::string id;
  std::string category;
  CaseResult result;
  std::string known_reason;  // non-empty: listed in the known-differences file
};

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 cannot carry most control characters, even escaped.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

bool ReadKnownDifferences(const fs::path& file, std::map<std::string, std::string>* known,
                          std::string* error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *error = "cannot read " + file.string();
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto doc = hpd::ParseJson(buffer.str());
  if (!doc.ok() || !doc->is_array()) {
    *error = file.string() + ": expected a JSON array of {\"case\", \"reason\"}" +
             (doc.ok() ? "" : ": " + doc.status().ToString());
    return false;
  }
  for (const json::value& entry : doc->as_array()) {
    const json::object* o = entry.if_object();
    const json::value* id = o ? o->if_contains("case") : nullptr;
    const json::value* reason = o ? o->if_contains("reason") : nullptr;
    if (id == nullptr || !id->is_string() || reason == nullptr || !reason->is_string() ||
        reason->get_string().empty()) {
      *error = file.string() + ": every entry needs a \"case\" and a non-empty \"reason\"";
      return false;
    }
    std::string key(id->get_string());
    if (key.ends_with(".json")) key.resize(key.size() - 5);
    (*known)[key] = std::string(reason->get_string());
  }
  return true;
}

bool WriteJunit(const fs::path& file, const std::vector<Outcome>& outcomes, std::string* error) {
  size_t failures = 0;
  size_t skipped = 0;
  for (const Outcome& o : outcomes) {
    if (!o.known_reason.empty() || o.result.verdict == Verdict::kSkipped) {
      ++skipped;
    } else if (o.result.verdict == Verdict::kFailed) {
      ++failures;
    }
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    *error = "cannot write " + file.string();
    return false;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"asl-conformance\" tests=\"" << outcomes.size() << "\" failures=\""
      << failures << "\" skipped=\"" << skipped << "\">\n";
  out << "  <testsuite name=\"asl-conformance\" tests=\"" << outcomes.size() << "\" failures=\""
      << failures << "\" errors=\"0\" skipped=\"" << skipped << "\">\n";
  for (const Outcome& o : outcomes) {
    out << "    <testcase classname=\"conformance."
        << XmlEscape(o.category.empty() ? "cases" : o.category) << "\" name=\"" << XmlEscape(o.id)
        << "\"";
    const CaseResult& r = o.result;
    if (!o.known_reason.empty()) {
      out << ">\n      <skipped message=\"known difference: " << XmlEscape(o.known_reason)
          << "\"/>\n    </testcase>\n";
    } else if (r.verdict == Verdict::kSkipped) {
      out << ">\n      <skipped message=\"" << XmlEscape(r.reason) << "\"/>\n    </testcase>\n";
    } else if (r.verdict == Verdict::kFailed) {
      out << ">\n      <failure message=\"" << XmlEscape(r.reason) << "\">";
      for (const std::string& d : r.hard) out << XmlEscape(d) << "\n";
      for (const std::string& d : r.soft) out << "soft: " << XmlEscape(d) << "\n";
      out << "</failure>\n    </testcase>\n";
    } else {
      out << "/>\n";
    }
  }
  out << "  </testsuite>\n</testsuites>\n";
  if (!out) {
    *error = "error writing " + file.string();
    return false;
  }
  return true;
}

struct Counts {
  size_t passed = 0;
  size_t failed = 0;
  size_t skipped = 0;
  size_t known_failing = 0;
  size_t known_passing = 0;
};

struct SelectedCase {
  fs::path file;
  std::string id;
};

// Loads and runs one case on `engine`; writes its history when asked to.
Outcome Evaluate(const SelectedCase& selected, const fs::path& cases_dir,
                 const hpd::conformance::RunIdentity& identity,
                 hpd::conformance::CaseEngine& engine,
                 const std::map<std::string, std::string>& known,
                 const std::string& histories_dir) {
  Outcome outcome;
  outcome.id = selected.id;
  auto loaded = hpd::conformance::LoadCase(selected.file, cases_dir);
  if (!loaded.ok()) {
    outcome.result.verdict = Verdict::kFailed;
    outcome.result.reason = loaded.status().ToString();
    outcome.result.hard.push_back(outcome.result.reason);
  } else {
    const ConformanceCase& c = *loaded;
    outcome.id = c.id;
    outcome.category = c.category;
    outcome.result = hpd::conformance::RunCase(c, identity, engine);
  }
  if (auto it = known.find(outcome.id); it != known.end()) outcome.known_reason = it->second;

  if (!histories_dir.empty() && outcome.result.history) {
    const fs::path out_file = fs::path(histories_dir) / (outcome.id + ".json");
    std::error_code ec;
    fs::create_directories(out_file.parent_path(), ec);
    std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
    out << hpd::SerializeJson(*outcome.result.history) << "\n";
    if (!out) std::cerr << "asl-conformance: cannot write " << out_file.string() << "\n";
  }
  outcome.result.history.reset();
  return outcome;
}

void Report(const Outcome& outcome, bool verbose, Counts* counts) {
  const CaseResult& r = outcome.result;
  if (!outcome.known_reason.empty()) {
    if (r.verdict == Verdict::kPassed) {
      ++counts->known_passing;
      std::cout << "KNOWN-NOW-PASSES " << outcome.id
                << " (remove it from the known-differences file)\n";
    } else {
      ++counts->known_failing;
      if (verbose) {
        std::cout << "KNOWN " << outcome.id << ": " << outcome.known_reason << " [" << r.reason
                  << "]\n";
      }
    }
  } else if (r.verdict == Verdict::kSkipped) {
    ++counts->skipped;
    if (verbose) std::cout << "SKIP " << outcome.id << ": " << r.reason << "\n";
  } else if (r.verdict == Verdict::kFailed) {
    ++counts->failed;
    std::cout << "FAIL " << outcome.id << ": " << r.reason << "\n";
  } else {
    ++counts->passed;
    if (verbose) std::cout << "PASS " << outcome.id << "\n";
  }
  if (verbose && r.verdict != Verdict::kSkipped) {
    for (size_t k = r.verdict == Verdict::kFailed ? 1 : 0; k < r.hard.size(); ++k) {
      std::cout << "    " << r.hard[k] << "\n";
    }
    for (const std::string& d : r.soft) std::cout << "    soft: " << d << "\n";
  }
}

// Runs `selected` on `engines` (one thread each), reporting in case order as results arrive.
void RunConcurrently(const std::vector<SelectedCase>& selected, const fs::path& cases_dir,
                     const hpd::conformance::RunIdentity& identity,
                     const std::vector<std::unique_ptr<hpd::conformance::CaseEngine>>& engines,
                     const std::map<std::string, std::string>& known,
                     const std::string& histories_dir, bool verbose, Counts* counts,
                     std::vector<Outcome>* outcomes) {
  std::vector<std::optional<Outcome>> results(selected.size());
  std::mutex mu;
  std::condition_variable ready;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (const auto& engine : engines) {
    workers.emplace_back([&, engine = engine.get()] {
      for (size_t i = next++; i < selected.size(); i = next++) {
        Outcome outcome = Evaluate(selected[i], cases_dir, identity, *engine, known, histories_dir);
        std::lock_guard lock(mu);
        results[i] = std::move(outcome);
        ready.notify_all();
      }
    });
  }
  for (size_t i = 0; i < selected.size(); ++i) {
    {
      std::unique_lock lock(mu);
      ready.wait(lock, [&] { return results[i].has_value(); });
    }
    // Workers no longer touch results[i] once it holds a value.
    Report(*results[i], verbose, counts);
    std::cout << std::flush;
    outcomes->push_back(std::move(*results[i]));
  }
  for (std::thread& worker : workers) worker.join();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Runs the AWS-recorded Step Functions conformance corpus against the in-process "
      "ASL interpreter, or through a Step Functions API server (--endpoint), and "
      "compares normalised histories.",
      "asl-conformance"};
  std::string cases_dir;
  std::string category;
  std::vector<std::string> case_filters;
  std::string junit_file;
  std::string known_file = HPD_DEFAULT_KNOWN_DIFFERENCES;
  std::string histories_dir;
  bool verbose = false;
  // `hpdeploy serve` on loopback accepts any signed request; elsewhere it verifies these.
  hpd::aws::SfnClientOptions endpoint;
  endpoint.access_key_id = "hpdconf";
  endpoint.secret_access_key = "hpdconf";
  // A case's calls are not retried: an error is the server's answer to compare.
  endpoint.max_attempts = 1;
  hpd::conformance::EndpointEngineOptions endpoint_options;
  size_t jobs = 4;
  int64_t idle_ms = endpoint_options.idle.count();
  int64_t case_timeout_s = endpoint_options.case_timeout.count();
  std::string access_key = endpoint.access_key_id + ":" + endpoint.secret_access_key;
  app.add_option("DIR", cases_dir, "Folder of case files (searched recursively for *.json)")
      ->required();
  app.add_option("--category", category, "Only the cases of this category (first folder)");
  app.add_option("--case", case_filters, "Only cases whose id contains this text (repeatable)");
  app.add_option("--junit", junit_file, "Write a JUnit XML report to FILE");
  app.add_option("--known-differences", known_file,
                 "JSON list of {\"case\", \"reason\"} reported as known, not as failures")
      ->capture_default_str();
  app.add_option("--write-histories", histories_dir,
                 "Write each run's raw GetExecutionHistory JSON to DIR/<case id>.json");
  app.add_flag("-v,--verbose", verbose, "Print every case and every difference");
  CLI::Option* endpoint_flag = app.add_option(
      "--endpoint", endpoint.endpoint,
      "Run the cases through the Step Functions API at URL (http://HOST:PORT) instead of in "
      "memory: CreateStateMachine, StartExecution (StartSyncExecution for EXPRESS), "
      "DescribeExecution, GetExecutionHistory. The server must serve the corpus's Lambda "
      "functions (hpdeploy serve --corpus-functions DIR) and should scale its time down, with "
      "the 60 s waits still well above --idle-ms (--time-scale 0.02)");
  app.add_option("--jobs", jobs, "With --endpoint: cases run at once, each on its own connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->needs(endpoint_flag);
  app.add_option("--idle-ms", idle_ms,
                 "With --endpoint: a running execution whose history has not grown for this long "
                 "is waiting (then a case expecting ABORTED is stopped); keep it below the "
                 "server's shortest scaled wait")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}))
      ->needs(endpoint_flag);
  app.add_option("--case-timeout", case_timeout_s,
                 "With --endpoint: seconds one case may run before it fails")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86'400}))
      ->needs(endpoint_flag);
  app.add_option("--access-key", access_key,
                 "With --endpoint: ACCESS_KEY_ID:SECRET to sign requests with (SigV4)")
      ->capture_default_str()
      ->needs(endpoint_flag);
  app.add_option("--region", endpoint.region, "With --endpoint: region of the signature's scope")
      ->capture_default_str()
      ->needs(endpoint_flag);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  std::map<std::string, std::string> known;
  std::string error;
  if (!known_file.empty() && !ReadKnownDifferences(known_file, &known, &error)) {
    std::cerr << "asl-conformance: " << error << "\n";
    return kExitUsage;
  }
  auto files = hpd::conformance::FindCaseFiles(cases_dir, category);
  if (!files.ok()) {
    std::cerr << "asl-conformance: " << files.status() << "\n";
    return kExitUsage;
  }
  std::vector<SelectedCase> selected;
  for (const fs::path& file : *files) {
    SelectedCase c{file, file.lexically_relative(cases_dir).replace_extension().generic_string()};
    bool wanted = case_filters.empty();
    for (const std::string& f : case_filters) wanted |= c.id.find(f) != std::string::npos;
    if (wanted) selected.push_back(std::move(c));
  }

  const hpd::conformance::RunIdentity identity = hpd::conformance::RunIdentity::Default();
  std::vector<Outcome> outcomes;
  Counts counts;
  if (endpoint.endpoint.empty()) {
    hpd::conformance::InMemoryEngine engine;
    for (const SelectedCase& c : selected) {
      outcomes.push_back(Evaluate(c, cases_dir, identity, engine, known, histories_dir));
      Report(outcomes.back(), verbose, &counts);
    }
  } else {
    const size_t colon = access_key.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == access_key.size()) {
      std::cerr << "asl-conformance: --access-key must be ACCESS_KEY_ID:SECRET\n";
      return kExitUsage;
    }
    endpoint.access_key_id = access_key.substr(0, colon);
    endpoint.secret_access_key = access_key.substr(colon + 1);
    endpoint_options.idle = std::chrono::milliseconds(idle_ms);
    endpoint_options.case_timeout = std::chrono::seconds(case_timeout_s);
    // State machine names unique on the server across runs: a random run token, then the
    // connection and a counter.
    hpd::SystemRandom random;
    const std::string run_token = hpd::NewUuidV4(random).substr(0, 8);
    hpd::SystemClock clock;
    std::vector<std::unique_ptr<hpd::conformance::CaseEngine>> engines;
    for (size_t k = 0; k < jobs; ++k) {
      auto client = hpd::aws::SfnClient::Create(endpoint);
      if (!client.ok()) {
        std::cerr << "asl-conformance: " << client.status() << "\n";
        return kExitUsage;
      }
      if (k == 0) {
        // Fail once, clearly, rather than once per case.
        auto answer = (*client)->Call("ListStateMachines", {{"maxResults", 1}});
        if (!answer.ok()) {
          std::cerr << "asl-conformance: cannot use the endpoint: " << answer.status() << "\n";
          return kExitUsage;
        }
      }
      hpd::conformance::EndpointEngineOptions options = endpoint_options;
      options.name_prefix += "-" + run_token + "-" + std::to_string(k);
      engines.push_back(std::make_unique<hpd::conformance::EndpointEngine>(
          std::move(client).value(), std::move(options), clock));
    }
    RunConcurrently(selected, cases_dir, identity, engines, known, histories_dir, verbose, &counts,
                    &outcomes);
  }

  if (!junit_file.empty() && !WriteJunit(junit_file, outcomes, &error)) {
    std::cerr << "asl-conformance: " << error << "\n";
    return kExitUsage;
  }
  if (counts.known_failing + counts.known_passing > 0) {
    std::cout << counts.known_failing + counts.known_passing << " known differences ("
              << counts.known_passing << " of them now pass)\n";
  }
  std::cout << counts.passed << " passed, " << counts.failed << " failed, " << counts.skipped
            << " skipped\n";
  return counts.failed == 0 ? kExitOk : kExitFailures;
}
