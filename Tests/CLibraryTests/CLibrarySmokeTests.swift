import CCurlShim
import CLibPQ
import CLibYAML
import Foundation
import Testing

/// Each C library is linked and called for real: a wrong module map or pkg-config name fails here first.
@Suite struct CLibrarySmokeTests {
    @Test func libpqReportsItsVersionAndParsesAConnectionString() throws {
        #expect(PQlibVersion() >= 150_000)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse("host=127.0.0.1 port=5999 dbname=lab", &errorMessage)
        defer { PQconninfoFree(options) }
        let parsed = try #require(options)
        var values: [String: String] = [:]
        var index = 0
        while let keyword = parsed[index].keyword {
            if let value = parsed[index].val { values[String(cString: keyword)] = String(cString: value) }
            index += 1
        }
        #expect(values["port"] == "5999")
        #expect(values["dbname"] == "lab")
    }

    @Test func libpqRejectsAMalformedConnectionString() {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse("host=127.0.0.1 nonsense", &errorMessage)
        #expect(options == nil)
        let message = errorMessage.map { String(cString: $0) } ?? ""
        PQfreemem(errorMessage)
        #expect(message.contains("nonsense"))
    }

    @Test func libyamlParsesAMappingWithMarks() throws {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        #expect(yaml_parser_initialize(parser) == 1)
        defer { yaml_parser_delete(parser) }
        let text = Array("cluster: lab\nport: 5432\n".utf8)
        var scalars: [(String, Int)] = []
        try text.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            for _ in 0..<32 {
                guard yaml_parser_parse(parser, &event) == 1 else {
                    Issue.record("libyaml failed to parse a valid document")
                    return
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_SCALAR_EVENT {
                    let value = String(cString: event.data.scalar.value)
                    scalars.append((value, Int(event.start_mark.line) + 1))
                }
                if event.type == YAML_STREAM_END_EVENT { return }
            }
            throw CancellationError()
        }
        #expect(scalars.map(\.0) == ["cluster", "lab", "port", "5432"])
        #expect(scalars.map(\.1) == [1, 1, 2, 2])
    }

    @Test func libcurlFetchesAFileThroughTheTypedShim() throws {
        #expect(curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("curl-smoke-\(UUID().uuidString)")
        try Data("payload".utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }

        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        final class Sink { var bytes = Data() }
        let sink = Sink()
        let callback: ccurl_write_callback = { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.bytes.append(UnsafeRawPointer(data!).assumingMemoryBound(to: UInt8.self), count: size * count)
            return size * count
        }
        #expect(ccurl_easy_setopt_string(handle, CURLOPT_URL, path.absoluteString) == CURLE_OK)
        #expect(ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
        #expect(ccurl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, callback) == CURLE_OK)
        #expect(
            ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                == CURLE_OK)
        #expect(curl_easy_perform(handle) == CURLE_OK)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "payload")

        var downloaded: Double = 0
        #expect(ccurl_easy_getinfo_double(handle, CURLINFO_SIZE_DOWNLOAD, &downloaded) == CURLE_OK)
        #expect(downloaded == 7)
    }

    @Test func libcurlReportsARefusedConnection() throws {
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        #expect(ccurl_easy_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        #expect(ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
        #expect(ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 2000) == CURLE_OK)
        #expect(curl_easy_perform(handle) == CURLE_COULDNT_CONNECT)
    }
}
