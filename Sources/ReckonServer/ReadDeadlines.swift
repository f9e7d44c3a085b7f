// The per-connection read deadlines for a request's head and body (slowloris).

import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow to send a request (slowloris).
///
/// Two deadlines, each a total and not an idle gap, so a client that drips one byte at a
/// time cannot keep resetting them:
/// - the head (request line and headers) must be complete within `header` of the
///   connection opening, or of the previous response ending (keep-alive);
/// - the body must be complete within `body` of the head.
/// While the server computes and writes a response no deadline runs.
final class ReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let header: TimeAmount
    let body: TimeAmount
    private var timer: Scheduled<Void>?
    /// Requests whose response has not ended yet (pipelining keeps this above one).
    private var inFlight = 0

    init(header: TimeAmount, body: TimeAmount) {
        self.header = header
        self.body = body
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(header, context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(header, context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            arm(body, context)
        case .body: break
        case .end: disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight -= 1
            if inFlight == 0 { arm(header, context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ limit: TimeAmount, _ context: ChannelHandlerContext) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [weak self] in
            self?.timer = nil
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
