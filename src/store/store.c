/* store.c: picks a store backend from a URI (store.h). */
#include <stdlib.h>

#include "store/store.h"

int md_store_open(md_store **out, const char *uri, int flags, md_diag *d)
{
    if (!out || !uri || !*uri)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "no store location given");
    *out = NULL;
    if (!strncmp(uri, "sqlite:", 7))
        return md_store_sqlite_open(out, uri + 7, flags, d);
    if (!strncmp(uri, "postgres://", 11) || !strncmp(uri, "postgresql://", 13))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "store '%s': the PostgreSQL backend is not built in", uri);
    return md_store_sqlite_open(out, uri, flags, d);
}

void md_store_close(md_store *s)
{
    if (s)
        s->ops->close(s);
}
