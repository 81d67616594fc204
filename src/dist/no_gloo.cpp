// The Gloo backend of a build without Gloo (BIGDL_WITH_GLOO off): asking for it is a
// clear error instead of a link failure.
#include "dist/internal.h"

namespace bigdl::dist {

bool gloo_available() { return false; }

GroupPtr gloo_group(int, int, const AllGatherBytes&, const GlooOptions&) {
  throw DistError("[dist] bigdl was built without Gloo; rebuild with Debian's libgloo-dev installed");
}

}  // namespace bigdl::dist
