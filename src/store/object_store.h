// The local object store: S3's bucket and key rules over files in a directory, for the
// embedded default (the pipeline writes s3://<configBucket>/<jobId>/config.json and its outputs
// document).
//
// Layout: <root>/<bucket>/<first two hex digits>/<SHA-256 of the key, hex> holds an object's
// bytes; <root>/index.db (SQLite) maps (bucket, key) to size, ETag (MD5 hex, as S3 gives for a
// single-part upload), content type and time. Keys become file names only through their hash,
// so no key ("../x", "a//b", 1,024 bytes) can reach outside the bucket's directory. A write goes
// to a temporary file that is synced and renamed into place before the index says it exists.
//
// Rules kept (S3 "Bucket naming rules", "Naming Amazon S3 objects"): bucket names of 3 to 63
// characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or
// digit, no "..", not an IP address, not starting "xn--", "sthree-" or "amzn-s3-demo-", not
// ending "-s3alias", "--ol-s3", ".mrap", "--x-s3" or "--table-s3"; keys of 1 to 1,024 bytes of
// well-formed UTF-8. Buckets are created by the first write to them. Errors carry S3's codes:
// InvalidBucketName, KeyTooLongError, InvalidArgument, NoSuchKey, NoSuchBucket.
//
// Thread-safe.
#ifndef HPD_STORE_OBJECT_STORE_H_
#define HPD_STORE_OBJECT_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {

class Database;

struct ObjectInfo {
  std::string key;
  int64_t size = 0;
  std::string etag;  // MD5 hex, in quotes as S3 sends it
  std::string content_type;
  WallTime last_modified{};
};

struct ObjectListing {
  std::vector<ObjectInfo> objects;        // by key
  std::optional<std::string> next_token;  // more after this page
};

Status ValidateBucketName(std::string_view bucket);
Status ValidateObjectKey(std::string_view key);

class ObjectStore {
 public:
  // Uses (creating) `root`. kUnavailable when it cannot be created or written.
  [[nodiscard]] static StatusOr<std::unique_ptr<ObjectStore>> Open(
      const std::filesystem::path& root, const Clock& clock);
  ~ObjectStore();
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // PutObject: replaces any object under the key; returns its ETag.
  [[nodiscard]] StatusOr<std::string> Put(
      std::string_view bucket, std::string_view key, std::string_view bytes,
      std::string_view content_type = "application/octet-stream");
  // GetObject: the bytes. NoSuchKey (kNotFound) when absent.
  [[nodiscard]] StatusOr<std::string> Get(std::string_view bucket, std::string_view key) const;
  [[nodiscard]] StatusOr<ObjectInfo> Head(std::string_view bucket, std::string_view key) const;
  // DeleteObject: deleting an absent key succeeds, as on S3.
  [[nodiscard]] Status Delete(std::string_view bucket, std::string_view key);
  // ListObjectsV2 with a prefix; at most `max_keys` (1..1000, 0 means 1000) per page.
  // NoSuchBucket when nothing was ever written to the bucket.
  [[nodiscard]] StatusOr<ObjectListing> List(
      std::string_view bucket, std::string_view prefix, size_t max_keys = 0,
      const std::optional<std::string>& continuation = std::nullopt) const;

 private:
  ObjectStore(std::filesystem::path root, std::unique_ptr<Database> index, const Clock& clock);
  std::filesystem::path FileOf(std::string_view bucket, std::string_view key) const;

  const std::filesystem::path root_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unique_ptr<Database> index_;  // guarded by mu_
};

}  // namespace hpd::store

#endif  // HPD_STORE_OBJECT_STORE_H_
