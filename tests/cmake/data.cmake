# data: corpus format, packer, inspector, sampler, loader.
add_executable(make_test_images ${CMAKE_CURRENT_SOURCE_DIR}/data/make_test_images.c)
target_link_libraries(make_test_images PRIVATE PkgConfig::LIBPNG JPEG::JPEG)
atas_c_test(NAME test_data_sampler SOURCES data/test_sampler.c TIMEOUT 60)
