# What `cmake --install` puts under the prefix, and the Debian package built from it (tools/package).
#
#   component `development`: libpgexport_engine.a and libpgexport_engine.so (with an soname), the public
#     headers of engine/include/pgexport/, the CMake package (find_package(pgexport) → pgexport::engine)
#     and pgexport.pc.
#   component `server`: the pgexport executable, its systemd unit and /etc/default/pgexport (the .deb).
#
# In the build tree the engine is three static libraries (pgexport_core, pgexport_engine, pgexport_schema)
# that the executable and the tests link. The installed library is one file made of the same objects, so an
# embedding program links one library and the internal split stays internal.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# libpq under the name a consumer's find_package(PostgreSQL) gives it (the build tree uses pkg-config's).
find_package(PostgreSQL REQUIRED)

foreach(part IN ITEMS pgexport_core pgexport_engine pgexport_schema)
    set_target_properties(${part} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endforeach()
set(engine_objects $<TARGET_OBJECTS:pgexport_core> $<TARGET_OBJECTS:pgexport_engine>
                   $<TARGET_OBJECTS:pgexport_schema>)

# What the engine's objects need at link time beyond themselves, read from how engine/CMakeLists.txt links
# pgexport_core and pgexport_engine (public and private alike), as names a consumer can import too: libpq
# under FindPostgreSQL's name, the internal parts (pgexport_*) dropped as their objects are in the library.
# A new find_package dependency of the engine also goes in cmake/pgexportConfig.cmake.in (find_dependency).
set(engine_public_deps "")
set(engine_private_deps "")
foreach(part IN ITEMS pgexport_core pgexport_engine)
    get_target_property(all_deps ${part} LINK_LIBRARIES)
    get_target_property(public_deps ${part} INTERFACE_LINK_LIBRARIES)
    foreach(dep IN LISTS all_deps)
        if(dep MATCHES "^pgexport_")
            continue()
        endif()
        set(kind private)
        if(dep IN_LIST public_deps)
            set(kind public)
        endif()
        if(dep STREQUAL "PkgConfig::LIBPQ")
            set(dep PostgreSQL::PostgreSQL)
        endif()
        list(APPEND engine_${kind}_deps ${dep})
    endforeach()
endforeach()
list(REMOVE_DUPLICATES engine_public_deps)
list(REMOVE_DUPLICATES engine_private_deps)
list(REMOVE_ITEM engine_private_deps ${engine_public_deps})

if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(engine_soversion "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}") # 0.x: any minor may break
else()
    set(engine_soversion "${PROJECT_VERSION_MAJOR}")
endif()

add_library(pgexport_engine_static STATIC ${engine_objects})
add_library(pgexport_engine_shared SHARED ${engine_objects})
set_target_properties(pgexport_engine_static PROPERTIES OUTPUT_NAME pgexport_engine EXPORT_NAME engine_static)
set_target_properties(pgexport_engine_shared PROPERTIES
    OUTPUT_NAME pgexport_engine EXPORT_NAME engine_shared
    VERSION "${PROJECT_VERSION}" SOVERSION "${engine_soversion}")
# A dependency missing here fails this link, not a consumer's.
target_link_options(pgexport_engine_shared PRIVATE "LINKER:--no-undefined")
foreach(lib IN ITEMS pgexport_engine_static pgexport_engine_shared)
    add_dependencies(${lib} pgexport_core pgexport_engine pgexport_schema)
    target_include_directories(${lib} INTERFACE
        "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/engine/include>" "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
    target_compile_features(${lib} INTERFACE cxx_std_20)
    target_link_libraries(${lib} PUBLIC ${engine_public_deps} PRIVATE ${engine_private_deps})
endforeach()

install(TARGETS pgexport_engine_static pgexport_engine_shared
    EXPORT pgexport_targets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT development
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT development NAMELINK_COMPONENT development)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/engine/include/pgexport" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
    COMPONENT development FILES_MATCHING PATTERN "*.hpp")

set(config_dir "${CMAKE_INSTALL_LIBDIR}/cmake/pgexport")
install(EXPORT pgexport_targets NAMESPACE pgexport:: FILE pgexportTargets.cmake DESTINATION "${config_dir}"
    COMPONENT development)
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/pgexportConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/pgexportConfig.cmake" INSTALL_DESTINATION "${config_dir}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/pgexportConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion) # like the soname: 0.1.x are compatible, 0.2 is not
install(FILES "${PROJECT_BINARY_DIR}/pgexportConfig.cmake" "${PROJECT_BINARY_DIR}/pgexportConfigVersion.cmake"
    DESTINATION "${config_dir}" COMPONENT development)

# pgexport.pc locates the prefix from its own place, so a tree installed with --prefix anywhere works.
set(pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
file(RELATIVE_PATH pc_to_prefix "/prefix/${pc_dir}" "/prefix")
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/pgexport.pc.in" "${PROJECT_BINARY_DIR}/pgexport.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/pgexport.pc" DESTINATION "${pc_dir}" COMPONENT development)

install(TARGETS pgexport RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT server)

# The service's files. Under the prefix /usr (the .deb) they go where Debian looks for them, /etc/default
# and /lib/systemd/system; under any other prefix below it, so that a test's install stays in its tree.
install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION "${CMAKE_INSTALL_DOCDIR}" COMPONENT server)
install(CODE "set(pgexport_packaging_dir \"${PROJECT_SOURCE_DIR}/packaging/debian\")" COMPONENT server)
install(CODE [[
    set(root "${CMAKE_INSTALL_PREFIX}")
    if(root STREQUAL "/usr")
        set(root "")
    endif()
    file(INSTALL "${pgexport_packaging_dir}/pgexport.service" DESTINATION "${root}/lib/systemd/system")
    # 0640: it may hold passwords; postinst gives it the group pgexport.
    file(INSTALL "${pgexport_packaging_dir}/pgexport.default" DESTINATION "${root}/etc/default"
         RENAME pgexport FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
]] COMPONENT server)

# tools/package: the .deb of the server component (the executable, the unit, the settings, the README).
set(CPACK_PACKAGE_NAME pgexport)
set(CPACK_PACKAGE_VENDOR pgexport)
set(CPACK_PACKAGE_CONTACT "pgexport maintainers <pgexport@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "export filtered PostgreSQL tables to CSV over an HTTP API")
set(CPACK_PACKAGE_DESCRIPTION "pgexport serve runs an HTTP API and a web page that export filtered \
PostgreSQL tables to CSV files, resumably, with a systemd unit (pgexport.service) configured in \
/etc/default/pgexport.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# (The DEB generator installs with DESTDIR itself, so /etc and /lib land in the package's root.)
# cpack packages the tree as built (tools/package builds first); it does not rebuild every target itself.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL server)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME "pgexport_${PROJECT_VERSION}_amd64.deb")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # libpq5, libboost-json1.81.0, libssl3, libc6, libstdc++6 as linked
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser") # postinst creates the user pgexport
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/debian/conffiles"
    "${PROJECT_SOURCE_DIR}/packaging/debian/postinst" "${PROJECT_SOURCE_DIR}/packaging/debian/prerm"
    "${PROJECT_SOURCE_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
