#include "tests/support/postfix_layout.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tests/support/postfix_config.h"

namespace volley::test_support {
namespace {

// The queue directories Postfix's daemons use (Debian's /etc/postfix/postfix-files), all owned
// by mail_owner.
constexpr const char* kPrivateQueueDirs[] = {"active",   "bounce", "corrupt", "defer",
                                             "deferred", "flush",  "hold",    "incoming",
                                             "private",  "saved",  "trace"};

absl::Status MakeDir(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  auto error = [&](absl::string_view call) {
    return absl::InternalError(absl::StrCat(call, " ", path, ": ", std::strerror(errno)));
  };
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return error("mkdir");
  if (chown(path.c_str(), uid, gid) != 0) return error("chown");
  // chmod after mkdir: the umask may have removed bits.
  if (chmod(path.c_str(), mode) != 0) return error("chmod");
  return absl::OkStatus();
}

// The files below `dir`, in its hashed subdirectories too; a missing `dir` holds none.
int CountFilesBelow(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int count = 0;
  while (dirent* entry = readdir(d)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = absl::StrCat(dir, "/", name);
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile: delivered or moved on
      type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    count += type == DT_DIR ? CountFilesBelow(path) : 1;
  }
  closedir(d);
  return count;
}

}  // namespace

absl::Status MakePostfixLayout(const std::string& instance_dir, uid_t owner_uid, gid_t owner_gid,
                               gid_t setgid_gid) {
  // The layout `postfix check` would create (post-install create-missing), made here directly
  // because that also wants to check /etc/postfix and takes seconds.
  const std::string queue = instance_dir + "/queue";
  if (absl::Status s = MakeDir(instance_dir + "/conf", 0, 0, 0755); !s.ok()) return s;
  if (absl::Status s = MakeDir(queue, 0, 0, 0755); !s.ok()) return s;
  if (absl::Status s = MakeDir(instance_dir + "/data", owner_uid, 0, 0700); !s.ok()) return s;
  for (const char* sub : kPrivateQueueDirs) {
    if (absl::Status s = MakeDir(absl::StrCat(queue, "/", sub), owner_uid, 0, 0700); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = MakeDir(queue + "/maildrop", owner_uid, setgid_gid, 0730); !s.ok()) return s;
  if (absl::Status s = MakeDir(queue + "/public", owner_uid, setgid_gid, 0710); !s.ok()) return s;
  if (absl::Status s = MakeDir(queue + "/pid", 0, 0, 0755); !s.ok()) return s;
  // The Maildir with its three folders, owned by the user virtual(8) writes as (virtual(8)
  // would make them on the first delivery): so that new/ can be read before anything arrived.
  const std::string maildir = PostfixMaildir(instance_dir);
  for (const std::string& path :
       {instance_dir + "/mail", maildir, maildir + "/tmp", maildir + "/new", maildir + "/cur"}) {
    if (absl::Status s = MakeDir(path, owner_uid, owner_gid, 0700); !s.ok()) return s;
  }
  return absl::OkStatus();
}

int QueuedMessages(const std::string& instance_dir) {
  // The folders in the order messages move through them, so that a message renamed from one to
  // the next while they are read is seen twice rather than not at all.
  int count = 0;
  for (const char* sub : {"maildrop", "incoming", "active", "deferred", "hold"}) {
    count += CountFilesBelow(absl::StrCat(instance_dir, "/queue/", sub));
  }
  return count;
}

}  // namespace volley::test_support
