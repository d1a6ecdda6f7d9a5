#!/usr/bin/env node
// Agreement test: `hpdeploy validate` against the npm package asl-validator.
//
// Both validators judge the same definitions; every definition on which their verdicts
// (valid / invalid) differ must be listed in known_disagreements.json beside this file, with the
// AWS evidence that decides who is right. The test fails on
//   - a disagreement that is not listed,
//   - a listed disagreement that no longer disagrees, or whose recorded verdicts are out of date
//     (stale entry),
//   - a disagreement in which the AWS side says that hpdeploy is wrong: an entry whose
//     "aws_verdict" is not our verdict, or a definition whose source fixes the AWS verdict
//     (conformance corpus: AWS ran it, so it is valid; tests/data/invalid_definitions.json:
//     invalid; tests/data/valid_definitions.json: valid) and we gave the other one. Our own bugs
//     are fixed in src/, never listed.
//
// Sources of definitions:
//   conformance/<category>/<case>.json   `definition` of every AWS-recorded conformance case
//                                         (${HPD_SHARED_DIR}/conformance/cases/**/*.json)
//   bench/<name>.asl.json                 ${HPD_SHARED_DIR}/bench/workloads/*.asl.json (ran on the
//                                         peer engine, not on AWS)
//   invalid:<name>, valid:<name>          tests/data/{invalid,valid}_definitions.json: arrays of
//                                         {name, rule, definition | text, expect?}
//
// asl-validator options. asl-validator's defaults are {checkPaths: true, checkArn: true}; we keep
// both, because both match what AWS does at CreateStateMachine / ValidateStateMachineDefinition:
// AWS rejects a definition whose InputPath/OutputPath/ResultPath/Parameters path is not a valid
// (reference) path, and a Task whose Resource is not an ARN. Turning either off would hide real
// differences (e.g. asl-validator's partition whitelist) instead of recording them.
//
// known_disagreements.json: [{"definition": "<id as above>", "ours": "OK"|"FAIL",
//   "asl_validator": "OK"|"FAIL", "aws_verdict": "OK"|"FAIL" (what AWS answers for the definition
//   as AWS received it; must equal "ours"), "cause": "<short group name, shared by entries with the
//   same cause>", "decided_by": "<docs.aws.amazon.com URL(s); for corpus cases the case id and
//   the doc of the feature>", "reason": "<one or two sentences>"}]
//
// Usage: node tests/agreement/asl_validator_agreement.mjs [--hpdeploy PATH] [--verbose]
//            [--dump FILE] [--no-ajv-cache] [--markdown] [--suggest]
//   --hpdeploy PATH  the hpdeploy binary (default build/bin/hpdeploy, relative to the repository)
//   --verbose        print every disagreement with both validators' messages
//   --dump FILE      write every definition's verdicts and messages as JSON (for investigating)
//   --no-ajv-cache   let asl-validator build its Ajv instance on every call (slow; see below)
//   --markdown       print the listed disagreements by cause as a Markdown table (for
//                    docs/validation.md, "Differences from asl-validator")
//   --suggest        print a skeleton known_disagreements.json entry for each unlisted disagreement
//                    (aws_verdict, cause, decided_by and reason are left for you to fill from the
//                    AWS documentation)
// Environment: HPD_SHARED_DIR (default ../shared, relative to the repository root). A missing
// corpus, bench folder or data file is reported as a note and its entries are not checked.
// Exit: 0 all passed, 1 some failed, or asl-validator (run scripts/setup) or hpdeploy is missing,
// or no definition at all was found.
// The last line printed is always "N passed, N failed".

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const npmDir = path.join(repoRoot, 'tests', 'npm');
const knownFile = path.join(here, 'known_disagreements.json');

// ---------------------------------------------------------------------------------------------
// Arguments.

function parseArgs(argv) {
  const out = { hpdeploy: 'build/bin/hpdeploy', verbose: false, dump: null, ajvCache: true,
                suggest: false, markdown: false };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--hpdeploy') out.hpdeploy = value();
    else if (a.startsWith('--hpdeploy=')) out.hpdeploy = a.slice('--hpdeploy='.length);
    else if (a === '--dump') out.dump = value();
    else if (a === '--verbose' || a === '-v') out.verbose = true;
    else if (a === '--no-ajv-cache') out.ajvCache = false;
    else if (a === '--suggest') out.suggest = true;
    else if (a === '--markdown') out.markdown = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  return out;
}

function usage(message) {
  if (message) console.error(`asl_validator_agreement: ${message}`);
  console.error('usage: node tests/agreement/asl_validator_agreement.mjs [--hpdeploy PATH] ' +
                '[--verbose] [--dump FILE] [--no-ajv-cache] [--suggest] [--markdown]');
  process.exit(message ? 2 : 0);
}

// Ends the run with a failure that is not about one definition (setup problems).
function fatal(message) {
  console.error(`asl_validator_agreement: ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const args = parseArgs(process.argv.slice(2));
const hpdeploy = path.resolve(repoRoot, args.hpdeploy);
const sharedDir = path.resolve(repoRoot, process.env.HPD_SHARED_DIR || '../shared');

// ---------------------------------------------------------------------------------------------
// asl-validator, loaded from tests/npm/node_modules (installed by scripts/setup).

function loadAslValidator() {
  const require = createRequire(path.join(npmDir, 'package.json'));
  let pkgJson;
  try {
    pkgJson = require.resolve('asl-validator/package.json');
  } catch {
    fatal(`asl-validator is not installed in ${path.join(npmDir, 'node_modules')}: ` +
          'run scripts/setup (it runs `npm ci` in tests/npm).');
  }
  const version = JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version;
  const wanted = JSON.parse(fs.readFileSync(path.join(npmDir, 'package.json'), 'utf8'))
      .dependencies?.['asl-validator'];
  if (wanted && version !== wanted) {
    fatal(`asl-validator ${version} is installed but tests/npm/package.json pins ${wanted}: ` +
          'run scripts/setup.');
  }
  if (args.ajvCache) reuseAjvInstance(require);
  return { validate: require('asl-validator'), version };
}

// asl-validator builds a new Ajv instance, and so compiles all its JSON schemas again, on every
// call (~0.2 s each, minutes for the whole corpus). Its options are the same on every call here,
// so the first `new Ajv(...)` made by asl-validator builds a real instance, and every later one
// gets a view of it whose add*() registration methods do nothing (the same schemas and formats
// are already registered, and compiled once): validate() runs on the shared compiled schemas and
// sets `errors` on the view, which is what asl-validator reads. --no-ajv-cache runs the library
// untouched; both give the same verdicts and messages for every definition (checked when this
// was written: compare two --dump outputs).
function reuseAjvInstance(require) {
  const ajvPath = createRequire(require.resolve('asl-validator')).resolve('ajv');
  const ajvModule = require(ajvPath);
  const RealAjv = ajvModule.default;
  let instance = null;
  function CachedAjv(...ctorArgs) {
    if (!instance) {
      instance = new RealAjv(...ctorArgs);
      return instance;
    }
    const view = Object.create(instance);
    for (const m of ['addFormat', 'addKeyword', 'addVocabulary', 'addSchema', 'addMetaSchema']) {
      view[m] = function () { return this; };
    }
    view.errors = null;
    return view;
  }
  ajvModule.default = CachedAjv;
}

const OPTIONS = Object.freeze({ checkPaths: true, checkArn: true });

function aslVerdict(validate, entry) {
  let definition;
  if (entry.text !== undefined) {
    try {
      definition = JSON.parse(entry.text);
    } catch (e) {
      return { verdict: 'FAIL', messages: [`not JSON (asl-validator needs an object): ${e.message}`] };
    }
  } else {
    definition = entry.definition;
  }
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    // asl-validator's entry point dereferences the object; it has no answer for other values.
    return { verdict: 'FAIL', messages: ['not a JSON object'] };
  }
  try {
    // asl-validator writes QueryLanguage into every state it sees: give it its own copy.
    const result = validate(structuredClone(definition), OPTIONS);
    return {
      verdict: result.isValid ? 'OK' : 'FAIL',
      messages: result.errors.map((e) => `${e['Error code']}: ${e.Message}`),
    };
  } catch (e) {
    return { verdict: 'FAIL', messages: [`asl-validator threw: ${e.message}`], threw: true };
  }
}

// ---------------------------------------------------------------------------------------------
// Gathering definitions. Each: {id, source, text | definition, expectedByAws?, origin}.

const notes = [];  // what could not be gathered, printed in the summary
const missingSources = new Set();  // sources whose directory or file is absent

function listFiles(dir, predicate) {
  const out = [];
  const walk = (d) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile() && predicate(ent.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function gatherConformance() {
  const dir = path.join(sharedDir, 'conformance', 'cases');
  if (!fs.existsSync(dir)) {
    notes.push(`conformance: no corpus at ${dir} (set HPD_SHARED_DIR)`);
    missingSources.add('conformance');
    return [];
  }
  const out = [];
  for (const file of listFiles(dir, (n) => n.endsWith('.json'))) {
    const rel = path.relative(dir, file).split(path.sep).join('/');
    const id = `conformance/${rel}`;
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      out.push({ id, source: 'conformance', error: `cannot read case: ${e.message}` });
      continue;
    }
    if (!doc || typeof doc !== 'object' || !('definition' in doc)) {
      out.push({ id, source: 'conformance', error: 'case has no "definition"' });
      continue;
    }
    // AWS created the state machine and ran it: the definition is valid.
    out.push({ id, source: 'conformance', definition: doc.definition, expectedByAws: 'OK' });
  }
  return out;
}

function gatherBench() {
  const dir = path.join(sharedDir, 'bench', 'workloads');
  if (!fs.existsSync(dir)) {
    notes.push(`bench: no workloads at ${dir} (set HPD_SHARED_DIR)`);
    missingSources.add('bench');
    return [];
  }
  return fs.readdirSync(dir).filter((n) => n.endsWith('.asl.json')).sort().map((n) => {
    // Raw text: both validators read the file as it is.
    const text = fs.readFileSync(path.join(dir, n), 'utf8');
    // Ran on the peer engine, not on AWS: no verdict is implied.
    return { id: `bench/${n}`, source: 'bench', text };
  });
}

function gatherData(kind) {
  const rel = `tests/data/${kind}_definitions.json`;
  const file = path.join(repoRoot, rel);
  const source = kind;
  if (!fs.existsSync(file)) {
    notes.push(`${kind}: ${rel} does not exist (yet); its definitions were not compared`);
    missingSources.add(kind);
    return [];
  }
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return [{ id: `${kind}:<file>`, source, error: `${rel} is not valid JSON: ${e.message}` }];
  }
  if (!Array.isArray(doc)) {
    return [{ id: `${kind}:<file>`, source, error: `${rel} must be a JSON array` }];
  }
  const out = [];
  const seen = new Set();
  doc.forEach((entry, i) => {
    const name = entry && typeof entry.name === 'string' ? entry.name : `#${i}`;
    const id = `${kind}:${name}`;
    if (seen.has(id)) {
      out.push({ id: `${id}#${i}`, source, error: `duplicate name ${JSON.stringify(name)} in ${rel}` });
      return;
    }
    seen.add(id);
    const hasText = entry && typeof entry.text === 'string';
    const hasDef = entry && 'definition' in entry;
    if (hasText === hasDef) {
      out.push({ id, source, error: `${rel}[${i}] must have exactly one of "definition" or "text"` });
      return;
    }
    const item = { id, source, rule: entry.rule, expectedByAws: kind === 'invalid' ? 'FAIL' : 'OK' };
    if (hasText) item.text = entry.text;
    else item.definition = entry.definition;
    out.push(item);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// hpdeploy, run once over all definitions.

function runHpdeploy(items) {
  if (!fs.existsSync(hpdeploy)) {
    fatal(`hpdeploy not found at ${hpdeploy}: build it (ninja -C build hpdeploy) or pass --hpdeploy.`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hpd-agreement-'));
  try {
    const byFile = new Map();
    const files = items.map((item, i) => {
      const file = path.join(tmp, `${String(i).padStart(5, '0')}.json`);
      const text = item.text !== undefined ? item.text : JSON.stringify(item.definition, null, 1);
      fs.writeFileSync(file, text);
      byFile.set(file, item);
      return file;
    });
    const run = spawnSync(hpdeploy, ['validate', '--format', 'json', ...files], {
      encoding: 'utf8',
      maxBuffer: 1024 * 1024 * 1024,
    });
    if (run.error) fatal(`cannot run ${hpdeploy}: ${run.error.message}`);
    if (run.status !== 0 && run.status !== 1) {
      fatal(`${hpdeploy} validate exited ${run.status ?? run.signal}:\n${run.stderr}`);
    }
    const results = new Map();
    const lines = run.stdout.split('\n').filter((l) => l.trim() !== '');
    for (const line of lines) {
      let obj;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        fatal(`cannot parse hpdeploy output line ${JSON.stringify(line.slice(0, 200))}: ${e.message}`);
      }
      // With a single file hpdeploy prints the bare result object (no "file" member).
      const file = obj.file ?? (files.length === 1 ? files[0] : undefined);
      const item = byFile.get(file);
      if (!item) fatal(`hpdeploy reported an unknown file ${JSON.stringify(obj.file)}`);
      if (obj.result !== 'OK' && obj.result !== 'FAIL') {
        fatal(`hpdeploy gave result ${JSON.stringify(obj.result)} for ${item.id}`);
      }
      results.set(item, {
        verdict: obj.result,
        messages: (obj.diagnostics ?? []).map(
            (d) => `${d.severity} ${d.code} at ${d.location || '/'}: ${d.message}`),
      });
    }
    for (const item of items) {
      if (!results.has(item)) fatal(`hpdeploy printed no result for ${item.id}`);
    }
    return results;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Known disagreements.

const VERDICTS = new Set(['OK', 'FAIL']);

function loadKnown() {
  if (!fs.existsSync(knownFile)) fatal(`${knownFile} is missing`);
  let list;
  try {
    list = JSON.parse(fs.readFileSync(knownFile, 'utf8'));
  } catch (e) {
    fatal(`${knownFile} is not valid JSON: ${e.message}`);
  }
  if (!Array.isArray(list)) fatal(`${knownFile} must be a JSON array`);
  const byId = new Map();
  const problems = [];
  list.forEach((e, i) => {
    const where = `known_disagreements.json[${i}]`;
    if (!e || typeof e !== 'object') {
      problems.push(`${where}: not an object`);
      return;
    }
    const missing = ['definition', 'ours', 'asl_validator', 'aws_verdict', 'cause', 'decided_by',
                     'reason'].filter((k) => typeof e[k] !== 'string' || e[k].trim() === '');
    if (missing.length) problems.push(`${where} (${e.definition}): missing ${missing.join(', ')}`);
    for (const k of ['ours', 'asl_validator', 'aws_verdict']) {
      if (typeof e[k] === 'string' && !VERDICTS.has(e[k])) {
        problems.push(`${where} (${e.definition}): "${k}" must be "OK" or "FAIL"`);
      }
    }
    if (e.ours === e.asl_validator && VERDICTS.has(e.ours)) {
      problems.push(`${where} (${e.definition}): "ours" and "asl_validator" are equal: not a disagreement`);
    }
    // The evidence: an AWS documentation page, or the AWS-recorded case itself.
    if (typeof e.decided_by === 'string' &&
        !/https:\/\/docs\.aws\.amazon\.com\/\S+/.test(e.decided_by) &&
        !(e.definition?.startsWith('conformance/') && e.decided_by.includes(e.definition))) {
      problems.push(`${where} (${e.definition}): "decided_by" must cite a docs.aws.amazon.com page ` +
                    'or the AWS-recorded conformance case');
    }
    if (byId.has(e.definition)) problems.push(`${where}: ${e.definition} is listed twice`);
    else if (typeof e.definition === 'string') byId.set(e.definition, e);
  });
  return { byId, problems };
}

// ---------------------------------------------------------------------------------------------

const asl = loadAslValidator();

const items = [
  ...gatherConformance(),
  ...gatherBench(),
  ...gatherData('invalid'),
  ...gatherData('valid'),
];
const broken = items.filter((i) => i.error);
const usable = items.filter((i) => !i.error);
if (usable.length === 0) fatal(`no definitions found (${notes.join('; ')})`);

const ours = runHpdeploy(usable);
const known = loadKnown();

const SOURCES = ['conformance', 'bench', 'invalid', 'valid'];
const perSource = Object.fromEntries(
    SOURCES.map((s) => [s, { total: 0, agree: 0, disagree: 0, listed: 0, failed: 0 }]));
const suggestions = [];
const perCause = new Map();  // cause -> {count, right, decided_by, sources}
const failures = [];
const records = [];
let passed = 0;
let failed = 0;

for (const item of broken) {
  failures.push(`${item.id}: ${item.error}`);
  perSource[item.source].failed++;
  failed++;
}

for (const item of usable) {
  const a = aslVerdict(asl.validate, item);
  const o = ours.get(item);
  const stats = perSource[item.source];
  stats.total++;
  const entry = known.byId.get(item.id);
  const record = { id: item.id, source: item.source, ours: o.verdict, asl_validator: a.verdict,
                   ours_messages: o.messages, asl_messages: a.messages };
  if (item.rule !== undefined) record.rule = item.rule;
  records.push(record);
  const problems = [];
  if (o.verdict === a.verdict) {
    stats.agree++;
    if (entry) {
      problems.push(`stale entry: both validators now say ${o.verdict}; remove it from ` +
                    'known_disagreements.json');
    }
    // Both may still be wrong; that is for invalid_definitions_test / corpus_validation_test.
  } else {
    stats.disagree++;
    if (item.expectedByAws && item.expectedByAws !== o.verdict) {
      const why = item.source === 'conformance'
          ? 'AWS created and ran this definition'
          : `tests/data/${item.source}_definitions.json says AWS answers ${item.expectedByAws}`;
      problems.push(`hpdeploy says ${o.verdict}, asl-validator ${a.verdict}, and ${why}: ` +
                    'a bug in hpdeploy (fix src/, do not list it)');
    }
    if (!entry) {
      suggestions.push({ definition: item.id, ours: o.verdict, asl_validator: a.verdict,
                         aws_verdict: '', cause: '', decided_by: '', reason: '' });
      problems.push(`unlisted disagreement: hpdeploy ${o.verdict}, asl-validator ${a.verdict}; ` +
                    'add it to known_disagreements.json with the AWS evidence, or fix hpdeploy');
    } else {
      if (entry.ours !== o.verdict || entry.asl_validator !== a.verdict) {
        problems.push(`stale entry: listed as ours ${entry.ours} / asl-validator ` +
                      `${entry.asl_validator}, now ${o.verdict} / ${a.verdict}`);
      } else if (entry.aws_verdict !== o.verdict) {
        problems.push(`listed with aws_verdict ${entry.aws_verdict}: per ${entry.decided_by} ` +
                      'hpdeploy is wrong here, which is a bug to fix, not a known disagreement');
      }
      const c = perCause.get(entry.cause) ??
          { count: 0, right: new Set(), decided_by: new Set(), sources: new Map() };
      c.count++;
      c.sources.set(item.source, (c.sources.get(item.source) ?? 0) + 1);
      c.right.add(entry.aws_verdict === o.verdict ? 'hpdeploy' : 'asl-validator');
      c.decided_by.add(entry.decided_by);
      perCause.set(entry.cause, c);
      record.cause = entry.cause;
    }
    if (args.verbose || problems.length) {
      console.log(`${problems.length ? 'FAIL' : 'known'} ${item.id}: hpdeploy ${o.verdict}, ` +
                  `asl-validator ${a.verdict}${entry ? ` [${entry.cause}]` : ''}`);
      if (args.verbose || !entry) {
        for (const m of o.messages.slice(0, 5)) console.log(`    hpdeploy: ${m}`);
        for (const m of a.messages.slice(0, 5)) console.log(`    asl-validator: ${m}`);
      }
    }
  }
  if (problems.length) {
    for (const p of problems) failures.push(`${item.id}: ${p}`);
    stats.failed++;
    failed++;
  } else {
    if (o.verdict !== a.verdict) stats.listed++;
    passed++;
  }
}

// Entries naming a definition that is not there any more are stale too, unless their whole
// source is absent (no corpus, data file not written yet): that is reported as a note above.
const ids = new Set(usable.map((i) => i.id));
const sourceOf = (id) => id.startsWith('conformance/') ? 'conformance'
    : id.startsWith('bench/') ? 'bench' : id.slice(0, Math.max(0, id.indexOf(':')));
let unchecked = 0;
for (const id of known.byId.keys()) {
  if (!ids.has(id) && missingSources.has(sourceOf(id))) {
    unchecked++;
  } else if (!ids.has(id)) {
    failures.push(`${id}: stale entry: no such definition any more; remove it from ` +
                  'known_disagreements.json');
    failed++;
  }
}
for (const p of known.problems) {
  failures.push(p);
  failed++;
}

if (args.markdown) {
  const SOURCE_NAMES = { conformance: 'AWS-recorded corpus', bench: 'bench workloads',
                         invalid: 'invalid_definitions.json', valid: 'valid_definitions.json' };
  console.log('\n| Cause | Definitions | Right per AWS | AWS evidence |');
  console.log('|---|---|---|---|');
  for (const [cause, c] of [...perCause].sort((x, y) => y[1].count - x[1].count)) {
    const where = [...c.sources].map(([s, n]) => `${n} ${SOURCE_NAMES[s]}`).join(', ');
    const urls = new Set();
    let recorded = false;
    for (const d of c.decided_by) {
      for (const u of d.match(/https:\/\/docs\.aws\.amazon\.com\/[^\s;,)]+/g) ?? []) urls.add(u);
      if (/^conformance\//.test(d)) recorded = true;
    }
    const links = [...urls].sort().map((u) => `[${u.replace(/^.*\/(?:dg|apireference|UserGuide)\//, '')}](${u})`);
    if (recorded) links.unshift('AWS-recorded executions (conformance cases)');
    const right = [...c.right].join(', ');
    const cell = cause.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    console.log(`| ${cell} | ${c.count} (${where}) | ${right} | ${links.join('<br>')} |`);
  }
}
if (args.suggest && suggestions.length) {
  console.log('\nskeleton entries for the unlisted disagreements:');
  console.log(JSON.stringify(suggestions, null, 2));
}
if (args.dump) fs.writeFileSync(args.dump, JSON.stringify(records, null, 1) + '\n');

// ---------------------------------------------------------------------------------------------
// Summary.

console.log(`\nasl-validator ${asl.version} (options ${JSON.stringify(OPTIONS)}) vs ${path.relative(repoRoot, hpdeploy) || hpdeploy}`);
console.log('source        definitions  agree  disagree (listed)  failed');
for (const s of SOURCES) {
  const t = perSource[s];
  console.log(`${s.padEnd(14)}${String(t.total).padStart(11)}${String(t.agree).padStart(7)}` +
              `${String(t.disagree).padStart(10)} (${String(t.listed).padStart(4)})  ` +
              `${String(t.failed).padStart(6)}`);
}
if (perCause.size) {
  console.log('\nlisted disagreements by cause (right per AWS):');
  for (const [cause, c] of [...perCause].sort((x, y) => y[1].count - x[1].count)) {
    console.log(`  ${String(c.count).padStart(4)}  ${cause}  [${[...c.right].join(', ')}]`);
  }
}
for (const n of notes) console.log(`note: ${n}`);
if (unchecked) console.log(`note: ${unchecked} known disagreement(s) of absent sources not checked`);
if (failures.length) {
  console.log(`\n${failures.length} problem(s):`);
  for (const f of failures) console.log(`  ${f}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
