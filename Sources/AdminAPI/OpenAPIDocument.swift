import Vocabulary

/// The admin API's OpenAPI 3.1 document, served at `/openapi.json`.
///
/// Compiled into the binary rather than shipped as a SwiftPM resource bundle: an installed
/// `failoverd` (copied to /usr/local/bin, packaged) has no bundle beside it, and looking one up
/// would end the process. `OpenAPIDocumentTests` checks it against the routes the server has.
enum OpenAPIDocument {
    static let json = ##"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "failoverd admin API",
            "version": "1.0.0",
            "description": "Operate the multi-region PostgreSQL failover control plane. Errors are {error, field, reason}. See docs/api.md."
          },
          "servers": [
            {
              "url": "http://127.0.0.1:8008"
            }
          ],
          "security": [
            {
              "bearer": []
            }
          ],
          "paths": {
            "/healthz": {
              "get": {
                "summary": "The daemon is alive",
                "operationId": "healthz",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "security": []
              }
            },
            "/readyz": {
              "get": {
                "summary": "The daemon has probed the cluster at least once",
                "operationId": "readyz",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "503": {
                    "description": "Not ready yet",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "security": []
              }
            },
            "/openapi.json": {
              "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "security": []
              }
            },
            "/metrics": {
              "get": {
                "summary": "Prometheus text exposition (docs/metrics.md); needs a token when api.metrics_auth is true",
                "operationId": "metrics",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "text/plain": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/api/database/status": {
              "get": {
                "summary": "Cluster state, primary, every endpoint, router targets",
                "operationId": "databaseStatus",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Status"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/api/database/health": {
              "get": {
                "summary": "The latest health snapshot",
                "operationId": "databaseHealth",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/api/database/alerts": {
              "get": {
                "summary": "Recent control-plane events (what alerting delivers), newest first",
                "operationId": "databaseAlerts",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/AlertEvent"
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000
                    }
                  }
                ]
              }
            },
            "/api/database/metrics": {
              "get": {
                "summary": "Recent probe results, newest first",
                "operationId": "databaseMetrics",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/ProbeSample"
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "endpoint",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000
                    }
                  }
                ]
              }
            },
            "/api/database/failover-history": {
              "get": {
                "summary": "Failovers and switchovers, newest first",
                "operationId": "databaseFailoverHistory",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/OperationRecord"
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000
                    }
                  }
                ]
              }
            },
            "/api/database/performance": {
              "get": {
                "summary": "Latency and error-rate aggregates per endpoint over recent probes",
                "operationId": "databasePerformance",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/Performance"
                          }
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/api/database/export": {
              "get": {
                "summary": "RTO/RPO report of a period (docs/reports.md)",
                "operationId": "databaseExport",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "The report",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      },
                      "text/csv": {
                        "schema": {
                          "type": "string"
                        }
                      },
                      "text/markdown": {
                        "schema": {
                          "type": "string"
                        }
                      },
                      "text/html": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "format",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "string",
                      "enum": [
                        "json",
                        "csv",
                        "md",
                        "html"
                      ]
                    }
                  },
                  {
                    "name": "from",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "to",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "string"
                    }
                  }
                ]
              }
            },
            "/api/database/connections": {
              "get": {
                "summary": "The proxy's pools, counters, breakers and routing table; 503 when the proxy is off (no routing: section)",
                "operationId": "databaseConnections",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/ProxyStatus"
                        }
                      }
                    }
                  },
                  "503": {
                    "description": "Not available in this daemon",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/api/routing/watch": {
              "get": {
                "summary": "The routing table as a stream: newline-delimited JSON, the current table first, then every change, a heartbeat line between changes; ends when the daemon stops",
                "operationId": "routingWatch",
                "description": "For a proxy that runs as its own process (failoverd proxy). Each line is a Routing object, or a heartbeat {heartbeat, epoch} every `heartbeat` seconds while nothing changes. A client that hears nothing for a few heartbeats treats the daemon as gone and keeps routing with the last table.",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK: a stream that stays open",
                    "content": {
                      "application/x-ndjson": {
                        "schema": {
                          "oneOf": [
                            {
                              "$ref": "#/components/schemas/Routing"
                            },
                            {
                              "$ref": "#/components/schemas/RoutingHeartbeat"
                            }
                          ]
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "heartbeat",
                    "in": "query",
                    "required": false,
                    "description": "Seconds between heartbeat lines (default 5)",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 60
                    }
                  }
                ]
              }
            },
            "/api/database/failover/{region}": {
              "post": {
                "summary": "Manual failover to a region (its leader first); dry_run answers what would happen",
                "operationId": "databaseFailover",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "oneOf": [
                            {
                              "$ref": "#/components/schemas/OperationRecord"
                            },
                            {
                              "$ref": "#/components/schemas/FailoverPlan"
                            }
                          ]
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "504": {
                    "description": "A step timed out",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "region",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "dry_run",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "boolean"
                    }
                  },
                  {
                    "name": "force",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "boolean"
                    }
                  }
                ],
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/database/reconnect/{region}": {
              "post": {
                "summary": "Drop and re-open the health monitor's and the proxy's connections to one region's endpoints",
                "operationId": "databaseReconnect",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Reconnect"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "region",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "description": "Needs an operator token. Writes an audit row, allowed or refused. The proxy closes its client connections to the region's endpoints, so clients reconnect through a fresh routing decision; the health monitor closes its watch connections there and opens them again after a probe. With the proxy off, only the monitor's connections are reset and proxyRunning is false."
              }
            },
            "/api/database/health-check": {
              "post": {
                "summary": "Probe every endpoint now and answer with the result",
                "operationId": "databaseHealthCheck",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/database/connections/refresh": {
              "post": {
                "summary": "Drop and re-open every proxied client connection and every health monitor watch connection",
                "operationId": "databaseConnectionsRefresh",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Reconnect"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused. With the proxy off, only the monitor's connections are reset and proxyRunning is false."
              }
            },
            "/api/database/analyze-query": {
              "post": {
                "summary": "EXPLAIN (without ANALYZE) of one read-only statement on a healthy standby, 2 s limit",
                "operationId": "databaseAnalyzeQuery",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Analyze"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "type": "object",
                        "properties": {
                          "sql": {
                            "type": "string",
                            "maxLength": 8192
                          }
                        },
                        "required": [
                          "sql"
                        ],
                        "additionalProperties": false
                      }
                    }
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/failover/status": {
              "get": {
                "summary": "Same as /api/database/status",
                "operationId": "failoverStatus",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Status"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/failover/metrics": {
              "get": {
                "summary": "Same as /api/database/performance",
                "operationId": "failoverMetrics",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/Performance"
                          }
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/failover/health": {
              "get": {
                "summary": "Same as /api/database/health",
                "operationId": "failoverHealth",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              }
            },
            "/failover/trigger": {
              "post": {
                "summary": "Manual failover to a region or an endpoint",
                "operationId": "failoverTrigger",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "oneOf": [
                            {
                              "$ref": "#/components/schemas/OperationRecord"
                            },
                            {
                              "$ref": "#/components/schemas/FailoverPlan"
                            }
                          ]
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "504": {
                    "description": "A step timed out",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "requestBody": {
                  "required": false,
                  "content": {
                    "application/json": {
                      "schema": {
                        "type": "object",
                        "properties": {
                          "region": {
                            "type": "string"
                          },
                          "endpoint": {
                            "type": "string"
                          },
                          "force": {
                            "type": "boolean"
                          },
                          "dryRun": {
                            "type": "boolean"
                          }
                        },
                        "additionalProperties": false
                      }
                    }
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/failover/check-health": {
              "post": {
                "summary": "Same as /api/database/health-check",
                "operationId": "failoverCheckHealth",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/failover/history": {
              "get": {
                "summary": "Same as /api/database/failover-history",
                "operationId": "failoverHistory",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/OperationRecord"
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000
                    }
                  }
                ]
              }
            },
            "/api/switchover": {
              "post": {
                "summary": "Planned switchover to a region or an endpoint, without data loss",
                "operationId": "switchover",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/OperationRecord"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "504": {
                    "description": "A step timed out",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "type": "object",
                        "properties": {
                          "region": {
                            "type": "string"
                          },
                          "endpoint": {
                            "type": "string"
                          }
                        },
                        "additionalProperties": false
                      }
                    }
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/pause": {
              "post": {
                "summary": "Pause automatic failover",
                "operationId": "pause",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/resume": {
              "post": {
                "summary": "Resume automatic failover",
                "operationId": "resume",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/rejoin/{endpoint}": {
              "post": {
                "summary": "Rejoin a fenced endpoint as a standby (failover.rejoin_command) and lift its fence",
                "operationId": "rejoin",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "504": {
                    "description": "The command timed out",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "endpoint",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/alerts/silences": {
              "get": {
                "summary": "Runtime silences that have not ended (added through this API; the alert file's silences are not listed)",
                "operationId": "listSilences",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/Silence"
                          }
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                }
              },
              "post": {
                "summary": "Add a runtime silence: matchers on alert labels, an end (endsAt or duration) and a comment; stored, it survives a restart",
                "operationId": "addSilence",
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/NewSilence"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "Created",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Silence"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused. The silence's author is the token's name. It applies to alerts raised while it is active, when the daemon runs with --alerts."
              }
            },
            "/api/alerts/silences/{id}": {
              "delete": {
                "summary": "Remove a runtime silence by id",
                "operationId": "deleteSilence",
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    },
                    "description": "A silence id from GET /api/alerts/silences"
                  }
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "description": "No such route, or no silence with this id (field: id)",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/circuit-breakers/reset": {
              "post": {
                "summary": "Close the proxy's circuit breaker of one endpoint, or of all; 503 when the proxy is off",
                "operationId": "resetCircuitBreakers",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "503": {
                    "description": "Not available in this daemon",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "requestBody": {
                  "required": false,
                  "content": {
                    "application/json": {
                      "schema": {
                        "type": "object",
                        "properties": {
                          "endpoint": {
                            "type": "string"
                          }
                        },
                        "additionalProperties": false
                      }
                    }
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            },
            "/api/audit": {
              "get": {
                "summary": "Audit rows of mutations, newest first",
                "operationId": "audit",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/AuditRow"
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "parameters": [
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000
                    }
                  }
                ]
              }
            },
            "/api/reload": {
              "post": {
                "summary": "Reload the cluster file (validated first; on error the running configuration stays)",
                "operationId": "reload",
                "responses": {
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Message"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "503": {
                    "description": "Not available in this daemon",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  }
                },
                "description": "Needs an operator token. Writes an audit row, allowed or refused."
              }
            }
          },
          "components": {
            "schemas": {
              "Error": {
                "type": "object",
                "required": [
                  "error",
                  "field",
                  "reason"
                ],
                "properties": {
                  "error": {
                    "type": "string"
                  },
                  "field": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "reason": {
                    "type": "string"
                  }
                }
              },
              "Message": {
                "type": "object",
                "required": [
                  "status"
                ],
                "properties": {
                  "status": {
                    "type": "string"
                  },
                  "detail": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              "Endpoint": {
                "type": "object",
                "required": [
                  "name",
                  "region",
                  "address",
                  "configuredRole",
                  "role",
                  "healthy",
                  "reachable",
                  "down",
                  "level",
                  "fenced"
                ],
                "properties": {
                  "name": {
                    "type": "string"
                  },
                  "region": {
                    "type": "string"
                  },
                  "address": {
                    "type": "string"
                  },
                  "configuredRole": {
                    "type": "string",
                    "enum": [
                      "leader",
                      "replica"
                    ]
                  },
                  "role": {
                    "type": "string"
                  },
                  "healthy": {
                    "type": "boolean"
                  },
                  "reachable": {
                    "type": "boolean"
                  },
                  "down": {
                    "type": "boolean"
                  },
                  "level": {
                    "type": "string"
                  },
                  "latencyMilliseconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "lagBytes": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "lagSeconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "upstream": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "lastProbeAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "lastError": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "fenced": {
                    "type": "boolean"
                  }
                }
              },
              "Routing": {
                "type": "object",
                "required": [
                  "epoch",
                  "writesPaused",
                  "fenced"
                ],
                "properties": {
                  "epoch": {
                    "type": "integer"
                  },
                  "writeTarget": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "writesPaused": {
                    "type": "boolean"
                  },
                  "fenced": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  }
                }
              },
              "RoutingHeartbeat": {
                "type": "object",
                "required": [
                  "heartbeat",
                  "epoch"
                ],
                "properties": {
                  "heartbeat": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "epoch": {
                    "type": "integer",
                    "description": "Epoch of the last table sent on this stream"
                  }
                }
              },
              "Status": {
                "type": "object",
                "required": [
                  "cluster",
                  "state",
                  "automaticFailoverPaused",
                  "fenced",
                  "endpoints",
                  "router"
                ],
                "properties": {
                  "cluster": {
                    "type": "string"
                  },
                  "state": {
                    "type": "string",
                    "enum": [
                      "HEALTHY",
                      "DEGRADED",
                      "FAILOVER_IN_PROGRESS",
                      "FAILOVER_COMPLETE",
                      "RECOVERY_IN_PROGRESS",
                      "UNKNOWN"
                    ]
                  },
                  "primary": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "automaticFailoverPaused": {
                    "type": "boolean"
                  },
                  "runningOperation": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "fenced": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "lastAutomaticFailoverAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "endpoints": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Endpoint"
                    }
                  },
                  "router": {
                    "$ref": "#/components/schemas/Routing"
                  }
                }
              },
              "Health": {
                "type": "object",
                "required": [
                  "sequence",
                  "takenAt",
                  "endpoints"
                ],
                "properties": {
                  "sequence": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "takenAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "endpoints": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Endpoint"
                    }
                  }
                }
              },
              "AlertEvent": {
                "type": "object",
                "required": [
                  "at",
                  "type",
                  "severity"
                ],
                "properties": {
                  "id": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "type": {
                    "type": "string"
                  },
                  "severity": {
                    "type": "string"
                  },
                  "event": {
                    "type": [
                      "object",
                      "null"
                    ]
                  }
                }
              },
              "ProbeSample": {
                "type": "object",
                "required": [
                  "at",
                  "endpoint",
                  "reachable",
                  "role"
                ],
                "properties": {
                  "at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "endpoint": {
                    "type": "string"
                  },
                  "reachable": {
                    "type": "boolean"
                  },
                  "latencyMilliseconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "lagBytes": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "lagSeconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "role": {
                    "type": "string"
                  },
                  "error": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              "Performance": {
                "type": "object",
                "required": [
                  "endpoint",
                  "region",
                  "samples",
                  "failures",
                  "errorRate"
                ],
                "properties": {
                  "endpoint": {
                    "type": "string"
                  },
                  "region": {
                    "type": "string"
                  },
                  "samples": {
                    "type": "integer"
                  },
                  "failures": {
                    "type": "integer"
                  },
                  "errorRate": {
                    "type": "number"
                  },
                  "latencyAverageMilliseconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "latencyP95Milliseconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "latencyMaxMilliseconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  }
                }
              },
              "OperationRecord": {
                "type": "object",
                "required": [
                  "id",
                  "kind",
                  "status",
                  "trigger",
                  "oldPrimary",
                  "detectedAt",
                  "steps"
                ],
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "kind": {
                    "type": "string",
                    "enum": [
                      "automatic_failover",
                      "manual_failover",
                      "switchover"
                    ]
                  },
                  "status": {
                    "type": "string"
                  },
                  "trigger": {
                    "type": "string"
                  },
                  "requestedBy": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "oldPrimary": {
                    "type": "string"
                  },
                  "newPrimary": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "detectedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "finishedAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "steps": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "rtoSeconds": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "rpoBytes": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "error": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                },
                "additionalProperties": true
              },
              "FailoverPlan": {
                "type": "object",
                "required": [
                  "oldPrimary",
                  "ranked",
                  "rejected",
                  "followers"
                ],
                "properties": {
                  "oldPrimary": {
                    "type": "string"
                  },
                  "candidate": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "ranked": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "rejected": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "followers": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "predictedLossBytes": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  }
                },
                "additionalProperties": true
              },
              "ProxyStatus": {
                "type": "object",
                "required": [
                  "epoch",
                  "writesPaused",
                  "pools",
                  "endpoints"
                ],
                "properties": {
                  "epoch": {
                    "type": "integer"
                  },
                  "writeTarget": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "writesPaused": {
                    "type": "boolean"
                  },
                  "listenReadWrite": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "listenReadOnly": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "pools": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "size": {
                          "type": "integer"
                        },
                        "inUse": {
                          "type": "integer"
                        },
                        "waiting": {
                          "type": "integer"
                        },
                        "rejected": {
                          "type": "integer"
                        }
                      }
                    }
                  },
                  "endpoints": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {
                        "endpoint": {
                          "type": "string"
                        },
                        "breaker": {
                          "type": "string",
                          "enum": [
                            "closed",
                            "open",
                            "half_open"
                          ]
                        },
                        "breakerOpenings": {
                          "type": "integer"
                        },
                        "activeConnections": {
                          "type": "integer"
                        },
                        "connectTimeoutMilliseconds": {
                          "type": "number"
                        }
                      }
                    }
                  }
                },
                "additionalProperties": true
              },
              "Analyze": {
                "type": "object",
                "required": [
                  "endpoint",
                  "plan"
                ],
                "properties": {
                  "endpoint": {
                    "type": "string"
                  },
                  "plan": {
                    "type": "string"
                  }
                }
              },
              "AuditRow": {
                "type": "object",
                "required": [
                  "at",
                  "actor",
                  "action"
                ],
                "properties": {
                  "id": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "actor": {
                    "type": "string"
                  },
                  "action": {
                    "type": "string"
                  },
                  "detail": {
                    "type": [
                      "object",
                      "null"
                    ],
                    "properties": {
                      "method": {
                        "type": "string"
                      },
                      "route": {
                        "type": "string"
                      },
                      "role": {
                        "type": [
                          "string",
                          "null"
                        ]
                      },
                      "parameters": {
                        "type": "object",
                        "additionalProperties": {
                          "type": "string"
                        }
                      },
                      "status": {
                        "type": "integer"
                      },
                      "result": {
                        "type": "string"
                      },
                      "reason": {
                        "type": [
                          "string",
                          "null"
                        ]
                      }
                    }
                  }
                }
              },
              "NewSilence": {
                "type": "object",
                "required": [
                  "matchers",
                  "comment"
                ],
                "description": "Give exactly one of endsAt or duration.",
                "properties": {
                  "matchers": {
                    "type": "object",
                    "description": "Alert label to accepted values: type, severity, cluster, region, endpoint or dedup_key. An alert is silenced when each label has one of its values.",
                    "minProperties": 1,
                    "additionalProperties": {
                      "anyOf": [
                        {
                          "type": "string",
                          "minLength": 1
                        },
                        {
                          "type": "array",
                          "minItems": 1,
                          "items": {
                            "type": "string",
                            "minLength": 1
                          }
                        }
                      ]
                    }
                  },
                  "endsAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "End instant, ISO 8601, in the future and within a year"
                  },
                  "duration": {
                    "type": "string",
                    "description": "How long from now, e.g. 30m or 2h (units: ms, s, m, h), at most a year"
                  },
                  "comment": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "description": "Why"
                  }
                },
                "additionalProperties": false
              },
              "Silence": {
                "type": "object",
                "required": [
                  "id",
                  "matchers",
                  "startsAt",
                  "endsAt",
                  "comment",
                  "createdBy",
                  "createdAt",
                  "active"
                ],
                "properties": {
                  "id": {
                    "type": "integer",
                    "format": "int64"
                  },
                  "matchers": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  },
                  "startsAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "endsAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "comment": {
                    "type": "string"
                  },
                  "createdBy": {
                    "type": "string",
                    "description": "The name of the token that added it"
                  },
                  "createdAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "active": {
                    "type": "boolean"
                  }
                }
              },
              "Reconnect": {
                "type": "object",
                "required": [
                  "endpoints",
                  "monitorConnectionsClosed",
                  "proxyRunning",
                  "detail"
                ],
                "properties": {
                  "region": {
                    "type": "string",
                    "description": "Absent for a refresh of every connection"
                  },
                  "endpoints": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "monitorConnectionsClosed": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "proxyRunning": {
                    "type": "boolean"
                  },
                  "proxyConnectionsClosed": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Absent when no proxy runs"
                  },
                  "detail": {
                    "type": "string"
                  }
                }
              }
            },
            "securitySchemes": {
              "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token of api.tokens; viewer tokens may call GET routes, operator tokens every route."
              }
            },
            "responses": {
              "NotFound": {
                "description": "No such route",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "BadRequest": {
                "description": "Bad input; field names it",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Unauthorized": {
                "description": "No token, or an unknown one",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Forbidden": {
                "description": "A viewer token on an operator route",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Conflict": {
                "description": "An operation is running, failover is paused, or no standby qualifies",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              }
            }
          }
        }
        """##
}
