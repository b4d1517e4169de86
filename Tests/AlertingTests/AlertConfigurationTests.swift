import Alerting
import Foundation
import Testing
import Topology

@Suite struct AlertConfigurationTests {
    static let environment = [
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/SLACKSECRET",
        "TEAMS_WEBHOOK_URL":
            "https://prod.example.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=TEAMSSECRET",
        "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/DISCORDSECRET",
        "PAGERDUTY_ROUTING_KEY": "PDSECRET0123456789",
        "ALERT_WEBHOOK_URL": "https://alerts.example.com/failover",
        "ALERT_WEBHOOK_SECRET": "whsec_c2VjcmV0",
    ]

    func diagnostics(_ yaml: String, environment: [String: String] = environment) -> [String] {
        do {
            _ = try AlertConfigurationLoader.parse(yaml: yaml, file: "alerts.yaml", environment: environment)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func productionExampleIsValid() throws {
        let path = repositoryRoot.appendingPathComponent("alerts/production-example.yaml").path
        let configuration = try AlertConfigurationLoader.load(path: path, environment: Self.environment)
        #expect(configuration.channels.map(\.kind) == [.slack, .teams, .discord, .pagerduty, .webhook])
        #expect(configuration.channel(named: "pager")?.host == "events.pagerduty.com")
        #expect(configuration.channel(named: "oncall-slack")?.host == "hooks.slack.com")
        #expect(configuration.routes.count == 3)
        #expect(configuration.routes[0].continueMatching)
        #expect(configuration.routes[0].groupWait == .zero)
        #expect(configuration.routes[1].groupInterval == .seconds(900))
        #expect(configuration.routes[1].repeatInterval == .seconds(14_400))
        #expect(configuration.inhibitRules.count == 2)
        #expect(configuration.silences.first?.comment == "ap-south storage migration (CHG-1234)")
        #expect(configuration.delivery.circuitFailures == 5)
    }

    @Test func labExampleIsValidWithoutEnvironment() throws {
        let path = repositoryRoot.appendingPathComponent("alerts/lab.yaml").path
        let configuration = try AlertConfigurationLoader.load(path: path, environment: [:])
        #expect(configuration.channels.first?.host == "127.0.0.1:9099")
        #expect(configuration.route.groupWait == .zero)
    }

    @Test func everyProblemIsReportedWithItsPositionAndAFix() {
        let yaml = """
            channels:
              - name: oncall
                type: slak
                url: ${SLACK_WEBHOOK_URL}
              - name: pager
                type: pagerduty
            route:
              channels: [oncal]
              group_wait: soon
              routes:
                - match: { severty: critical }
                  channels: [pager]
            """
        #expect(
            diagnostics(yaml) == [
                "alerts.yaml:3:11: error: channels[0].type: unknown type \"slak\"; did you mean \"slack\"?",
                "alerts.yaml:5:5: error: channels[1].routing_key: a pagerduty channel needs its integration key; add routing_key: \"${PAGERDUTY_ROUTING_KEY}\"",
                "alerts.yaml:8:14: error: route.channels[0]: no channel named \"oncal\"; did you mean \"oncall\"?",
                "alerts.yaml:9:15: error: route.group_wait: \"soon\" is not a duration; write a number and a unit, e.g. 2s or 500ms",
                "alerts.yaml:11:16: error: route.routes[0].match.severty: unknown key \"severty\"; did you mean \"severity\"?",
            ])
    }

    @Test func aBadURLIsReportedWithoutQuotingIt() {
        let yaml = """
            channels:
              - { name: oncall, type: slack, url: "${SLACK_WEBHOOK_URL}" }
            route: { channels: [oncall] }
            """
        let found = diagnostics(yaml, environment: ["SLACK_WEBHOOK_URL": "hooks.slack.com/services/SECRETPART"])
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("alerts.yaml:2:39: error: channels[0].url: not an http(s) URL") == true)
        #expect(found.allSatisfy { !$0.contains("SECRETPART") })
    }

    @Test func aMissingVariableIsNamed() {
        let yaml = """
            channels:
              - { name: oncall, type: slack, url: "${SLACK_WEBHOOK_URL}" }
            route: { channels: [oncall] }
            """
        #expect(
            diagnostics(yaml, environment: [:]) == [
                "alerts.yaml:2:39: error: channels[0].url: environment variable SLACK_WEBHOOK_URL is not set; export SLACK_WEBHOOK_URL or give a default with ${SLACK_WEBHOOK_URL:-default}"
            ])
    }

    @Test func alertFilesAreToldApartFromClusterFiles() throws {
        let alerts = try String(
            contentsOf: repositoryRoot.appendingPathComponent("alerts/lab.yaml"), encoding: .utf8)
        let cluster = try String(
            contentsOf: repositoryRoot.appendingPathComponent("regions/lab.yaml"), encoding: .utf8)
        #expect(AlertConfigurationLoader.looksLikeAlertFile(alerts))
        #expect(!AlertConfigurationLoader.looksLikeAlertFile(cluster))
    }
}
