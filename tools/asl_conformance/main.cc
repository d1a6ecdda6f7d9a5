// asl-conformance: runs the AWS-recorded conformance corpus against the in-process interpreter.
//
//   asl-conformance DIR [--category C] [--case TEXT] [--junit FILE] [--verbose]
//                       [--known-differences FILE] [--write-histories DIR]
//
// One line per failing case with its first difference, then "N passed, N failed, N skipped".
// Cases listed in the known-differences file are reported apart (not passed, not failed).
// Exit status: 0 when no case failed, 1 when one did, 2 on usage or I/O errors.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl_conformance/conformance_case.h"
#include "asl_conformance/runner.h"
#include "common/json.h"

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
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the AWS-recorded Step Functions conformance corpus against the in-process "
               "ASL interpreter and compares normalised histories.",
               "asl-conformance"};
  std::string cases_dir;
  std::string category;
  std::vector<std::string> case_filters;
  std::string junit_file;
  std::string known_file = HPD_DEFAULT_KNOWN_DIFFERENCES;
  std::string histories_dir;
  bool verbose = false;
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

  const hpd::conformance::RunIdentity identity = hpd::conformance::RunIdentity::Default();
  std::vector<Outcome> outcomes;
  size_t passed = 0;
  size_t failed = 0;
  size_t skipped = 0;
  size_t known_failing = 0;
  size_t known_passing = 0;
  for (const fs::path& file : *files) {
    Outcome outcome;
    outcome.id = file.lexically_relative(cases_dir).replace_extension().generic_string();
    bool selected = case_filters.empty();
    for (const std::string& f : case_filters) selected |= outcome.id.find(f) != std::string::npos;
    if (!selected) continue;
    auto loaded = hpd::conformance::LoadCase(file, cases_dir);
    if (!loaded.ok()) {
      outcome.result.verdict = Verdict::kFailed;
      outcome.result.reason = loaded.status().ToString();
      outcome.result.hard.push_back(outcome.result.reason);
    } else {
      const ConformanceCase& c = *loaded;
      outcome.id = c.id;
      outcome.category = c.category;
      outcome.result = hpd::conformance::RunCase(c, identity);
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

    const CaseResult& r = outcome.result;
    if (!outcome.known_reason.empty()) {
      if (r.verdict == Verdict::kPassed) {
        ++known_passing;
        std::cout << "KNOWN-NOW-PASSES " << outcome.id
                  << " (remove it from the known-differences file)\n";
      } else {
        ++known_failing;
        if (verbose) {
          std::cout << "KNOWN " << outcome.id << ": " << outcome.known_reason << " ["
                    << r.reason << "]\n";
        }
      }
    } else if (r.verdict == Verdict::kSkipped) {
      ++skipped;
      if (verbose) std::cout << "SKIP " << outcome.id << ": " << r.reason << "\n";
    } else if (r.verdict == Verdict::kFailed) {
      ++failed;
      std::cout << "FAIL " << outcome.id << ": " << r.reason << "\n";
    } else {
      ++passed;
      if (verbose) std::cout << "PASS " << outcome.id << "\n";
    }
    if (verbose && r.verdict != Verdict::kSkipped) {
      for (size_t k = r.verdict == Verdict::kFailed ? 1 : 0; k < r.hard.size(); ++k) {
        std::cout << "    " << r.hard[k] << "\n";
      }
      for (const std::string& d : r.soft) std::cout << "    soft: " << d << "\n";
    }
    outcome.result.history.reset();
    outcomes.push_back(std::move(outcome));
  }

  if (!junit_file.empty() && !WriteJunit(junit_file, outcomes, &error)) {
    std::cerr << "asl-conformance: " << error << "\n";
    return kExitUsage;
  }
  if (known_failing + known_passing > 0) {
    std::cout << known_failing + known_passing << " known differences (" << known_passing
              << " of them now pass)\n";
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 ? kExitOk : kExitFailures;
}
