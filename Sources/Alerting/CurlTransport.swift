import CCurlShim
import Foundation
import NIOPosix
import Synchronization

/// The answer to one POST, or why there was none.
struct HTTPAnswer: Sendable {
    /// Nil when no HTTP answer came (refused, timed out, TLS failure).
    var status: Int?
    var retryAfter: String?
    /// The start of the receiver's body, for the history of permanent failures.
    var bodyPrefix: String
    /// libcurl's description of a transport failure; it never holds the URL.
    var transportError: String?
    var latency: Duration
}

/// One libcurl easy handle. libcurl allows a handle on one thread at a time; each channel owns
/// one and sends one request at a time on the transport's threads, which makes `@unchecked Sendable`
/// safe. Reusing the handle reuses its connection (keep-alive), so a channel holds at most one
/// connection to its receiver.
final class CurlHandle: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer?

    init() {
        handle = curl_easy_init()
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
    }

    /// Collects the body (up to a few kB) and the `Retry-After` header.
    private final class Sink {
        var body = Data()
        var retryAfter: String?
    }

    /// Blocks for up to `timeout`: call it on a transport thread only.
    func post(
        url: String, headers: [(name: String, value: String)], body: Data, connectTimeout: Duration,
        timeout: Duration
    ) -> HTTPAnswer {
        let start = ContinuousClock.now
        guard let handle else {
            return HTTPAnswer(transportError: "libcurl could not create a handle", latency: .zero)
        }
        let sink = Sink()
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        // Without this, libcurl sends `Expect: 100-continue` for larger bodies and waits for an answer.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }

        curl_easy_reset(handle)
        var code = ccurl_easy_setopt_string(handle, CURLOPT_URL, url)
        let options: [(CURLoption, Int)] = [
            (CURLOPT_NOSIGNAL, 1), (CURLOPT_POST, 1), (CURLOPT_SSL_VERIFYPEER, 1), (CURLOPT_SSL_VERIFYHOST, 2),
            (CURLOPT_TCP_KEEPALIVE, 1), (CURLOPT_FOLLOWLOCATION, 0), (CURLOPT_TCP_NODELAY, 1),
            (CURLOPT_CONNECTTIMEOUT_MS, Int(milliseconds(connectTimeout))),
            (CURLOPT_TIMEOUT_MS, Int(milliseconds(timeout))), (CURLOPT_POSTFIELDSIZE, body.count),
        ]
        for (option, value) in options where code == CURLE_OK {
            code = ccurl_easy_setopt_long(handle, option, value)
        }
        if code == CURLE_OK {
            code = ccurl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        }
        if code == CURLE_OK {
            code = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        }
        if code == CURLE_OK {
            // COPYPOSTFIELDS copies POSTFIELDSIZE bytes, so the Data may go away after this call.
            code = body.withUnsafeBytes { bytes in
                ccurl_easy_setopt_pointer(
                    handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            }
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let write: ccurl_write_callback = { data, size, count, context in
            let total = size * count
            guard let data, let context else { return total }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            if sink.body.count < 4096 {
                sink.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: total)
            }
            return total
        }
        let header: ccurl_write_callback = { data, size, count, context in
            let total = size * count
            guard let data, let context else { return total }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let line = String(
                decoding: UnsafeRawBufferPointer(start: data, count: total), as: UTF8.self)
            if line.lowercased().hasPrefix("retry-after:") {
                sink.retryAfter = line.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespacesAndNewlines)
            } else if line.hasPrefix("HTTP/") {
                // A new response (after a redirect or 100): forget the previous one's headers.
                sink.retryAfter = nil
            }
            return total
        }
        if code == CURLE_OK { code = ccurl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, write) }
        if code == CURLE_OK { code = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context) }
        if code == CURLE_OK { code = ccurl_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, header) }
        if code == CURLE_OK { code = ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context) }
        if code == CURLE_OK {
            code = curl_easy_perform(handle)
        }
        let latency = ContinuousClock.now - start
        guard code == CURLE_OK else {
            return HTTPAnswer(transportError: String(cString: curl_easy_strerror(code)), latency: latency)
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPAnswer(
            status: status, retryAfter: sink.retryAfter,
            bodyPrefix: String(decoding: sink.body.prefix(512), as: UTF8.self), latency: latency)
    }

    private func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

extension HTTPAnswer {
    init(transportError: String, latency: Duration) {
        self.init(status: nil, retryAfter: nil, bodyPrefix: "", transportError: transportError, latency: latency)
    }
}

/// Runs libcurl's blocking calls on threads of its own, never on Swift's cooperative pool: a
/// receiver that takes its whole timeout to answer then holds one of these threads, not one of the
/// two or so the rest of the daemon runs on.
final class CurlTransport: Sendable {
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    private let pool: NIOThreadPool

    /// `threads`: one per channel lets every channel send at once.
    init(threads: Int) {
        _ = Self.globalInit
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    func post(
        on handle: CurlHandle, url: String, headers: [(name: String, value: String)], body: Data,
        connectTimeout: Duration, timeout: Duration
    ) async -> HTTPAnswer {
        let request = SendableRequest(headers: headers)
        do {
            return try await pool.runIfActive {
                handle.post(
                    url: url, headers: request.headers, body: body, connectTimeout: connectTimeout, timeout: timeout)
            }
        } catch {
            return HTTPAnswer(transportError: "the delivery threads are shut down", latency: .zero)
        }
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

/// Tuples of strings are Sendable in practice; the compiler wants a named type.
private struct SendableRequest: Sendable {
    var headers: [(name: String, value: String)]
}
