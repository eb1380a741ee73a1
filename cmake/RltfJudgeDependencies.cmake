# Finds what rltf::judge needs: SQLite (the answer cache) and cpp-httplib (HttpJudge), both from
# Debian. Used by the build tree and by the installed package. Sets RLTF_HAS_JUDGE and RLTF_JUDGE_LINK.
set(RLTF_HAS_JUDGE OFF)
find_package(SQLite3 QUIET)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(RLTF_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
endif()
if(SQLite3_FOUND AND RLTF_HTTPLIB_FOUND)
  set(RLTF_HAS_JUDGE ON)
  set(RLTF_JUDGE_LINK SQLite::SQLite3 PkgConfig::RLTF_HTTPLIB)
endif()
