// Google Benchmark micro-benchmarks of the interpreter's hot paths: what every state entered
// pays for (JSONPath lookups, payload templates, intrinsic calls, JSON serialisation of the
// history payloads) and one Pass state step end to end.
//
//   hot_paths_bench [--benchmark_filter=REGEX] [--benchmark_min_time=0.5s] ...
//
// Inputs are built in the program (no files), shaped like the bench workloads
// (../shared/bench/workloads): pass_chain's Parameters, choice_loop's States.MathAdd, map_1000's
// items.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "asl/data_flow.h"
#include "asl/definition.h"
#include "asl/evaluation_scope.h"
#include "asl/interpreter.h"
#include "asl/intrinsic.h"
#include "asl/intrinsic_eval.h"
#include "asl/parser.h"
#include "asl/path.h"
#include "common/json.h"
#include "common/random.h"

namespace {

namespace json = boost::json;
using hpd::asl::JsonPath;

// Aborts the program: a benchmark whose setup fails measures nothing.
template <typename T>
T Must(hpd::StatusOr<T> v, std::string_view what) {
  if (!v.ok()) {
    std::cerr << what << ": " << v.status().ToString() << "\n";
    std::abort();
  }
  return std::move(v).value();
}

json::value Document() {
  return Must(hpd::ParseJson(R"({"value":42,"tag":"bench","i":17,"label":"loop",
      "deploy":{"cluster":{"name":"hp-cluster-1","nodes":[{"id":"n0","ready":true},
      {"id":"n1","ready":false},{"id":"n2","ready":true},{"id":"n3","ready":true}]}},
      "items":[{"id":0,"w":0},{"id":1,"w":1},{"id":2,"w":2},{"id":3,"w":3},{"id":4,"w":4},
      {"id":5,"w":5},{"id":6,"w":6},{"id":7,"w":0},{"id":8,"w":1},{"id":9,"w":2}]})"),
              "document");
}

json::value MapInput(int items) {
  json::array a;
  for (int k = 0; k < items; ++k) {
    a.push_back(json::object{{"id", k}, {"name", "item-" + std::to_string(k)}, {"weight", k % 7}});
  }
  return json::object{{"batch", "b1"}, {"items", std::move(a)}};
}

void BM_JsonPathFind(benchmark::State& state, const char* text) {
  const JsonPath path = Must(hpd::asl::ParseJsonPath(text), text);
  const json::value doc = Document();
  for (auto _ : state) {
    benchmark::DoNotOptimize(path.Find(doc));
  }
}
BENCHMARK_CAPTURE(BM_JsonPathFind, field, "$.value");
BENCHMARK_CAPTURE(BM_JsonPathFind, nested_index, "$.deploy.cluster.nodes[2].id");
BENCHMARK_CAPTURE(BM_JsonPathFind, missing, "$.deploy.nothing.here");

void BM_JsonPathSelect(benchmark::State& state, const char* text) {
  const JsonPath path = Must(hpd::asl::ParseJsonPath(text), text);
  const json::value doc = Document();
  for (auto _ : state) {
    auto nodes = path.Select(doc);
    benchmark::DoNotOptimize(nodes.data());
  }
}
BENCHMARK_CAPTURE(BM_JsonPathSelect, definite, "$.deploy.cluster.name");
BENCHMARK_CAPTURE(BM_JsonPathSelect, wildcard, "$.items[*].id");
BENCHMARK_CAPTURE(BM_JsonPathSelect, filter, "$.deploy.cluster.nodes[?(@.ready == true)]");
BENCHMARK_CAPTURE(BM_JsonPathSelect, recursive, "$..id");

void BM_JsonPathParse(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(hpd::asl::ParseJsonPath("$.deploy.cluster.nodes[2].id"));
  }
}
BENCHMARK(BM_JsonPathParse);

// The Parameters template of the first state of `definition`, compiled by the parser.
std::shared_ptr<const hpd::asl::StateMachine> Machine(std::string_view definition) {
  hpd::asl::ParseResult r = hpd::asl::ParseDefinition(definition);
  if (!r.ok()) {
    std::cerr << "invalid definition:\n" << DiagnosticsToText(r.diagnostics);
    std::abort();
  }
  return r.machine;
}

void BM_EvaluateTemplate(benchmark::State& state, const char* parameters) {
  const auto machine = Machine(std::string(R"({"StartAt":"S","States":{"S":{"Type":"Pass",)") +
                               R"("Parameters":)" + parameters + R"(,"End":true}}})");
  const hpd::asl::ValueTemplate& tmpl = *machine->states.front().parameters;
  const json::value doc = Document();
  hpd::SeededRandom random(1);
  hpd::asl::EvaluationScope scope;
  scope.input = &doc;
  scope.random = &random;
  for (auto _ : state) {
    auto v = hpd::asl::EvaluateTemplate(tmpl, scope);
    benchmark::DoNotOptimize(v);
  }
}
// pass_chain_1000's Parameters.
BENCHMARK_CAPTURE(BM_EvaluateTemplate, pass_chain,
                  R"({"step":0,"value.$":"$.value","tag.$":"$.tag"})");
// hyperpod_like's Task Parameters, nested and with a literal subtree.
BENCHMARK_CAPTURE(BM_EvaluateTemplate, nested,
                  R"({"cluster.$":"$.deploy.cluster.name","nodes.$":"$.deploy.cluster.nodes",
                      "meta":{"k":"v","n":[1,2,3]},"first.$":"$.items[0]"})");
BENCHMARK_CAPTURE(BM_EvaluateTemplate, intrinsic,
                  R"J({"i.$":"States.MathAdd($.i, 1)","label.$":"$.label"})J");

void BM_EvaluateIntrinsic(benchmark::State& state, const char* text) {
  const hpd::asl::IntrinsicCall call = Must(hpd::asl::ParseIntrinsic(text), text);
  const json::value doc = Document();
  hpd::SeededRandom random(1);
  hpd::asl::EvaluationScope scope;
  scope.input = &doc;
  scope.random = &random;
  for (auto _ : state) {
    auto v = hpd::asl::EvaluateIntrinsic(call, scope, text);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK_CAPTURE(BM_EvaluateIntrinsic, math_add, "States.MathAdd($.i, 1)");
BENCHMARK_CAPTURE(BM_EvaluateIntrinsic, format, "States.Format('{}-{}', $.tag, $.value)");
BENCHMARK_CAPTURE(BM_EvaluateIntrinsic, array_length, "States.ArrayLength($.items)");
BENCHMARK_CAPTURE(BM_EvaluateIntrinsic, json_to_string, "States.JsonToString($.deploy)");
BENCHMARK_CAPTURE(BM_EvaluateIntrinsic, uuid, "States.UUID()");

void BM_SerializeJson(benchmark::State& state, int items) {
  const json::value doc = items == 0 ? Document() : MapInput(items);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string s = hpd::SerializeJson(doc);
    bytes = s.size();
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}
BENCHMARK_CAPTURE(BM_SerializeJson, state_input, 0);
BENCHMARK_CAPTURE(BM_SerializeJson, map_1000_input, 1000);

void BM_ParseJson(benchmark::State& state, int items) {
  const std::string text = hpd::SerializeJson(items == 0 ? Document() : MapInput(items));
  for (auto _ : state) {
    auto v = hpd::ParseJson(text);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK_CAPTURE(BM_ParseJson, state_input, 0);
BENCHMARK_CAPTURE(BM_ParseJson, map_1000_input, 1000);

// A chain of `n` Pass states shaped like pass_chain_1000's.
std::string PassChain(int n) {
  std::string d = R"({"StartAt":"P0","States":{)";
  for (int k = 0; k < n; ++k) {
    if (k > 0) d += ',';
    d += "\"P" + std::to_string(k) + R"(":{"Type":"Pass","Parameters":{"step":)" +
         std::to_string(k) + R"(,"value.$":"$.value","tag.$":"$.tag"},"ResultPath":"$.last",)";
    d += k + 1 < n ? "\"Next\":\"P" + std::to_string(k + 1) + "\"}" : std::string("\"End\":true}");
  }
  return d + "}}";
}

// Start to finish of an execution of `n` Pass states; items processed = states entered, so
// items_per_second is states/s and 1 / it the cost of one Pass state step (history included).
void BM_PassStateStep(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto machine = Machine(PassChain(n));
  const std::string input_text = R"({"value":42,"tag":"bench","last":null})";
  const json::value input = Must(hpd::ParseJson(input_text), "input");
  const hpd::WallTime now{std::chrono::seconds(1'767'225'600)};
  uint64_t seed = 0;
  for (auto _ : state) {
    hpd::asl::ExecutionInfo info;
    info.execution_arn = "arn:aws:states:us-east-1:123456789012:execution:bench:x";
    info.execution_name = "x";
    info.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:bench";
    info.state_machine_name = "bench";
    info.start_time = now;
    info.random_seed = ++seed;
    hpd::asl::Execution execution(machine, std::move(info));
    hpd::asl::Commands c = execution.Start(input, input_text, now);
    if (!c.finished) {
      state.SkipWithError("a Pass chain did not finish in Start");
      break;
    }
    benchmark::DoNotOptimize(execution.history().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}
BENCHMARK(BM_PassStateStep)->Arg(1)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
