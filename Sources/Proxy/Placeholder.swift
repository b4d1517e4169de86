/// Placeholder while the proxy is written.
enum ProxyPlaceholder {}
