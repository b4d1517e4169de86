import AdminAPI
import Foundation
import Testing

@Suite struct OpenAPIDocumentTests {
    /// `METHOD /path` of every operation in the served document.
    static func documented() throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: AdminAPI.openAPIDocument) as? [String: Any]
        let paths = try #require(object?["paths"] as? [String: [String: Any]])
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func documentIsOpenAPI31() throws {
        let object = try JSONSerialization.jsonObject(with: AdminAPI.openAPIDocument) as? [String: Any]
        #expect(object?["openapi"] as? String == "3.1.0")
    }

    @Test func everyRouteIsDocumented() throws {
        let missing = Set(AdminAPI.routeTable).subtracting(try Self.documented())
        #expect(missing.isEmpty, "routes missing from openapi.json: \(missing.sorted())")
    }

    @Test func everyDocumentedOperationIsARoute() throws {
        let extra = try Self.documented().subtracting(AdminAPI.routeTable)
        #expect(extra.isEmpty, "openapi.json documents routes the server lacks: \(extra.sorted())")
    }

    @Test func routesAreUnique() {
        #expect(Set(AdminAPI.routeTable).count == AdminAPI.routeTable.count)
    }
}
