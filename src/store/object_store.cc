#include "store/object_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/digest.h"
#include "common/utf8.h"
#include "store/sqlite.h"

namespace hpd::store {
namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kMaxKeysPerPage = 1000;

Status InvalidBucket(std::string_view bucket, std::string_view why) {
  return Named(InvalidArgumentError("The specified bucket is not valid: " + std::string(bucket) +
                                    " (" + std::string(why) + ")"),
               "InvalidBucketName");
}

Status NoSuchKey(std::string_view bucket, std::string_view key) {
  return Named(NotFoundError("The specified key does not exist: s3://" + std::string(bucket) + "/" +
                             std::string(key)),
               "NoSuchKey");
}

bool IsIpAddress(std::string_view name) {
  int parts = 0;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = name.find('.', start);
    const std::string_view part =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3) return false;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// Writes `bytes` to `file` durably: a temporary file beside it, synced, renamed into place.
Status WriteFileAtomically(const std::filesystem::path& file, std::string_view bytes) {
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (error) return UnavailableError("cannot create " + file.parent_path().string());
  const std::string temporary = file.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return UnavailableError("cannot write " + temporary + ": " + std::strerror(errno));
  }
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return UnavailableError("cannot write " + temporary + ": " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temporary.c_str(), file.c_str()) != 0) {
    return UnavailableError("cannot store " + file.string() + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

ObjectInfo InfoFrom(const Statement& s) {
  return ObjectInfo{std::string(s.Text(0)), s.Int(1), std::string(s.Text(2)),
                    std::string(s.Text(3)), WallTime(Duration(s.Int(4)))};
}

}  // namespace

Status ValidateBucketName(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return InvalidBucket(bucket, "3 to 63 characters");
  }
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return InvalidBucket(bucket, "lowercase letters, digits, '.' and '-' only");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) {
    return InvalidBucket(bucket, "must begin and end with a letter or digit");
  }
  if (bucket.find("..") != std::string_view::npos) {
    return InvalidBucket(bucket, "no two adjacent periods");
  }
  if (IsIpAddress(bucket)) return InvalidBucket(bucket, "not an IP address");
  for (std::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (bucket.starts_with(prefix)) {
      return InvalidBucket(bucket, "must not begin with " + std::string(prefix));
    }
  }
  for (std::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (bucket.ends_with(suffix)) {
      return InvalidBucket(bucket, "must not end with " + std::string(suffix));
    }
  }
  return Status::Ok();
}

Status ValidateObjectKey(std::string_view key) {
  if (key.empty()) {
    return Named(InvalidArgumentError("An object key must not be empty"), "InvalidArgument");
  }
  if (key.size() > kMaxKeyBytes) {
    return Named(InvalidArgumentError("Your key is too long: " + std::to_string(key.size()) +
                                      " bytes, at most 1024"),
                 "KeyTooLongError");
  }
  if (!IsWellFormedUtf8(key)) {
    return Named(InvalidArgumentError("An object key must be well-formed UTF-8"),
                 "InvalidArgument");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Open(const std::filesystem::path& root,
                                                         const Clock& clock) {
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error) {
    return UnavailableError("cannot create the object store " + root.string() + ": " +
                            error.message());
  }
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> index,
                       Database::Open(root / "index.db", Database::Mode::kReadWrite));
  HPD_RETURN_IF_ERROR(index->Execute(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS objects ("
      "  bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
      "  content_type TEXT NOT NULL, modified_ns INTEGER NOT NULL,"
      "  PRIMARY KEY (bucket, key)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY) WITHOUT ROWID;"
      "PRAGMA user_version = 1;"));
  return std::unique_ptr<ObjectStore>(new ObjectStore(root, std::move(index), clock));
}

ObjectStore::ObjectStore(std::filesystem::path root, std::unique_ptr<Database> index,
                         const Clock& clock)
    : root_(std::move(root)), clock_(clock), index_(std::move(index)) {}

ObjectStore::~ObjectStore() = default;

std::filesystem::path ObjectStore::FileOf(std::string_view bucket, std::string_view key) const {
  const std::string hash = Sha256Hex(key);
  return root_ / std::string(bucket) / hash.substr(0, 2) / hash;
}

StatusOr<std::string> ObjectStore::Put(std::string_view bucket, std::string_view key,
                                       std::string_view bytes, std::string_view content_type) {
  HPD_RETURN_IF_ERROR(ValidateBucketName(bucket));
  HPD_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string etag = "\"" + Md5Hex(bytes) + "\"";
  std::lock_guard lock(mu_);
  // The bytes are durable before the index names them; a crash in between leaves an unnamed
  // file that the next Put of the key replaces.
  HPD_RETURN_IF_ERROR(WriteFileAtomically(FileOf(bucket, key), bytes));
  HPD_ASSIGN_OR_RETURN(Statement bucket_row,
                       index_->Prepare("INSERT OR IGNORE INTO buckets (name) VALUES (?1)"));
  HPD_RETURN_IF_ERROR(bucket_row.Bind(1, bucket).Run());
  HPD_ASSIGN_OR_RETURN(
      Statement upsert,
      index_->Prepare("INSERT OR REPLACE INTO objects (bucket, key, size, etag, content_type, "
                      "modified_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  HPD_RETURN_IF_ERROR(upsert.Bind(1, bucket)
                          .Bind(2, key)
                          .Bind(3, static_cast<int64_t>(bytes.size()))
                          .Bind(4, etag)
                          .Bind(5, content_type)
                          .Bind(6, clock_.WallNow().time_since_epoch().count())
                          .Run());
  return etag;
}

StatusOr<ObjectInfo> ObjectStore::Head(std::string_view bucket, std::string_view key) const {
  HPD_RETURN_IF_ERROR(ValidateBucketName(bucket));
  HPD_RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement query,
                       index_->Prepare("SELECT key, size, etag, content_type, modified_ns FROM "
                                       "objects WHERE bucket = ?1 AND key = ?2"));
  query.Bind(1, bucket).Bind(2, key);
  HPD_ASSIGN_OR_RETURN(bool found, query.Step());
  if (!found) return NoSuchKey(bucket, key);
  ObjectInfo info = InfoFrom(query);
  query.Reset();
  return info;
}

StatusOr<std::string> ObjectStore::Get(std::string_view bucket, std::string_view key) const {
  HPD_ASSIGN_OR_RETURN(ObjectInfo info, Head(bucket, key));
  std::ifstream in(FileOf(bucket, key), std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in || static_cast<int64_t>(bytes.str().size()) != info.size) {
    return DataLossError("the object s3://" + std::string(bucket) + "/" + std::string(key) +
                         " is missing or damaged in " + root_.string());
  }
  return std::move(bytes).str();
}

Status ObjectStore::Delete(std::string_view bucket, std::string_view key) {
  HPD_RETURN_IF_ERROR(ValidateBucketName(bucket));
  HPD_RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement remove,
                       index_->Prepare("DELETE FROM objects WHERE bucket = ?1 AND key = ?2"));
  HPD_RETURN_IF_ERROR(remove.Bind(1, bucket).Bind(2, key).Run());
  std::error_code ignored;
  std::filesystem::remove(FileOf(bucket, key), ignored);
  return Status::Ok();
}

StatusOr<ObjectListing> ObjectStore::List(std::string_view bucket, std::string_view prefix,
                                          size_t max_keys,
                                          const std::optional<std::string>& continuation) const {
  HPD_RETURN_IF_ERROR(ValidateBucketName(bucket));
  if (max_keys > kMaxKeysPerPage) {
    return Named(InvalidArgumentError("max-keys must be at most 1000"), "InvalidArgument");
  }
  const size_t limit = max_keys == 0 ? kMaxKeysPerPage : max_keys;
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement exists, index_->Prepare("SELECT 1 FROM buckets WHERE name = ?1"));
  exists.Bind(1, bucket);
  HPD_ASSIGN_OR_RETURN(bool known, exists.Step());
  exists.Reset();
  if (!known) {
    return Named(NotFoundError("The specified bucket does not exist: " + std::string(bucket)),
                 "NoSuchBucket");
  }
  HPD_ASSIGN_OR_RETURN(
      Statement query,
      index_->Prepare("SELECT key, size, etag, content_type, modified_ns FROM objects WHERE "
                      "bucket = ?1 AND substr(CAST(key AS BLOB), 1, ?2) = CAST(?3 AS BLOB) AND "
                      "(?4 IS NULL OR key > ?4) "
                      "ORDER BY key LIMIT ?5"));
  query.Bind(1, bucket).Bind(2, static_cast<int64_t>(prefix.size())).Bind(3, prefix);
  if (continuation) {
    query.Bind(4, std::string_view(*continuation));
  } else {
    query.BindNull(4);
  }
  query.Bind(5, static_cast<int64_t>(limit + 1));
  ObjectListing listing;
  while (true) {
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    listing.objects.push_back(InfoFrom(query));
  }
  query.Reset();
  if (listing.objects.size() > limit) {
    listing.objects.resize(limit);
    listing.next_token = listing.objects.back().key;
  }
  return listing;
}

}  // namespace hpd::store
