# `cpack -G DEB`: one package, crimp, with what `cmake --install` installs.
# Configure with -DCMAKE_INSTALL_PREFIX=/usr for it (tests/package/test-deb.sh
# does).  No maintainer scripts: installing never enables or starts crimpd
# (systemctl enable --now crimpd.socket crimpd is the operator's step), and
# /etc/crimp/crimpd.json is a conffile, kept on remove, gone on purge.
set(CPACK_PACKAGE_NAME crimp)
set(CPACK_PACKAGE_VENDOR "crimp")
set(CPACK_PACKAGE_CONTACT "crimp maintainers <crimp@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "CRI multiplexing proxy: kubelet to Docker, containerd or any CRI runtime")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "crimpd serves the Kubernetes CRI v1 to kubelet and carries each call to a backend:\n"
    "Docker (a dockershim rebuilt in C), containerd's native API, or any CRI endpoint.\n"
    "New pods can move from one runtime to another without restarting kubelet.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "containerd | docker.io, containernetworking-plugins")
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/crimp/crimpd.json\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_GENERATOR DEB)
include(CPack)
