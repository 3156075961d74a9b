// Umbrella for the log layer: record framing, the file-system seam and its implementations,
// the log writer and reader (recovery), checkpoints, and the durable store (transactions).
#pragma once

#include <mmsb/log/background_checkpoint.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/cut.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/log/record.hpp>
