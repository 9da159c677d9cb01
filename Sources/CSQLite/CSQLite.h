// SQLite from Debian's libsqlite3-dev: the agent's embedded store.
#include <sqlite3.h>
