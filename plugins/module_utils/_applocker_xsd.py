# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's XML Schema for AppLocker policies (XSD 1.0), as a string the module can load.

Source of the constraints: the "Policy XSD Schema" that Microsoft publishes with the AppLocker CSP
documentation (MicrosoftDocs/windows-itpro-docs, windows/client-management/mdm/applocker-csp.md,
page dated 2023-05-10). This schema is written for this project and expresses the same
structure, cardinalities, types, patterns and identity constraints (one RuleCollection per Type,
rule Ids unique across the policy), and is stricter where Microsoft's is loose:

- ``RuleCollection/@Type`` is one of Exe, Msi, Script, Dll, Appx (Microsoft's: any string);
- ``AppLockerPolicy/@Version`` is 1, the only version AppLocker knows (Microsoft's: any decimal);
- a specific file version is four dot-separated numbers (Microsoft's pattern leaves the dot
  unescaped, so ``1a2b3c4`` passes);
- ``FileHash/@SourceFileLength`` is a non-negative integer (Microsoft's: any integer).

What XSD 1.0 cannot say is checked in Python (``_applocker_model``): sections at most 65535,
LowSection not above HighSection, hash data length matching its Type, Ids unique regardless of
case, packaged-app rules being publisher rules only.

tests/unit/plugins/module_utils/test_applocker_xsd.py validates a corpus of generated and mutated
policies against this schema and, when ``../shared/reference/applocker-policy/`` is present,
against Microsoft's, and requires the same verdict from both (the stricter points above are
listed there, each with both verdicts).
"""

from __future__ import annotations

POLICY_XSD = """<?xml version="1.0" encoding="utf-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified"
           attributeFormDefault="unqualified" version="1.0">

  <xs:element name="AppLockerPolicy" type="Policy">
    <xs:unique name="OneRuleCollectionPerType">
      <xs:selector xpath="RuleCollection"/>
      <xs:field xpath="@Type"/>
    </xs:unique>
    <xs:unique name="RuleIdsAreUnique">
      <xs:selector xpath="RuleCollection/*"/>
      <xs:field xpath="@Id"/>
    </xs:unique>
  </xs:element>

  <xs:complexType name="Policy">
    <xs:sequence>
      <xs:element name="RuleCollection" type="RuleCollection" minOccurs="0" maxOccurs="unbounded"/>
      <xs:element name="PolicyExtensions" type="PolicyExtensions" minOccurs="0"/>
    </xs:sequence>
    <xs:attribute name="Version" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:decimal">
          <xs:enumeration value="1"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
  </xs:complexType>

  <xs:complexType name="RuleCollection">
    <xs:sequence>
      <xs:choice minOccurs="0" maxOccurs="unbounded">
        <xs:element name="FilePublisherRule" type="PublisherRule"/>
        <xs:element name="FilePathRule" type="PathRule"/>
        <xs:element name="FileHashRule" type="HashRule"/>
      </xs:choice>
      <xs:element name="RuleCollectionExtensions" type="CollectionExtensions" minOccurs="0"/>
    </xs:sequence>
    <xs:attribute name="Type" type="CollectionType" use="required"/>
    <xs:attribute name="EnforcementMode" type="EnforcementMode" use="optional"/>
  </xs:complexType>

  <xs:simpleType name="CollectionType">
    <xs:restriction base="xs:string">
      <xs:enumeration value="Exe"/>
      <xs:enumeration value="Msi"/>
      <xs:enumeration value="Script"/>
      <xs:enumeration value="Dll"/>
      <xs:enumeration value="Appx"/>
    </xs:restriction>
  </xs:simpleType>

  <xs:simpleType name="EnforcementMode">
    <xs:restriction base="xs:string">
      <xs:enumeration value="NotConfigured"/>
      <xs:enumeration value="Enabled"/>
      <xs:enumeration value="AuditOnly"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- Rules: Conditions once, Exceptions at most once (publisher and path rules only), in either order. -->
  <xs:attributeGroup name="RuleAttributes">
    <xs:attribute name="Id" type="Guid" use="required"/>
    <xs:attribute name="Name" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:minLength value="1"/>
          <xs:maxLength value="1024"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
    <xs:attribute name="Description" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:maxLength value="1024"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
    <xs:attribute name="UserOrGroupSid" type="Sid" use="required"/>
    <xs:attribute name="Action" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:enumeration value="Allow"/>
          <xs:enumeration value="Deny"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
  </xs:attributeGroup>

  <xs:complexType name="PublisherRule">
    <xs:all>
      <xs:element name="Conditions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="FilePublisherCondition" type="PublisherCondition"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="Exceptions" type="RuleExceptions" minOccurs="0"/>
    </xs:all>
    <xs:attributeGroup ref="RuleAttributes"/>
  </xs:complexType>

  <xs:complexType name="PathRule">
    <xs:all>
      <xs:element name="Conditions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="FilePathCondition" type="PathCondition"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="Exceptions" type="RuleExceptions" minOccurs="0"/>
    </xs:all>
    <xs:attributeGroup ref="RuleAttributes"/>
  </xs:complexType>

  <xs:complexType name="HashRule">
    <xs:all>
      <xs:element name="Conditions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="FileHashCondition" type="HashCondition"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:all>
    <xs:attributeGroup ref="RuleAttributes"/>
  </xs:complexType>

  <xs:complexType name="RuleExceptions">
    <xs:choice minOccurs="0" maxOccurs="unbounded">
      <xs:element name="FilePublisherCondition" type="PublisherCondition"/>
      <xs:element name="FilePathCondition" type="PathCondition"/>
      <xs:element name="FileHashCondition" type="HashCondition"/>
    </xs:choice>
  </xs:complexType>

  <!-- Conditions -->
  <xs:complexType name="PublisherCondition">
    <xs:all>
      <xs:element name="BinaryVersionRange">
        <xs:complexType>
          <xs:attribute name="LowSection" type="FileVersion" use="required"/>
          <xs:attribute name="HighSection" type="FileVersion" use="required"/>
        </xs:complexType>
      </xs:element>
    </xs:all>
    <xs:attribute name="PublisherName" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:minLength value="1"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
    <xs:attribute name="ProductName" type="xs:string" use="required"/>
    <xs:attribute name="BinaryName" type="xs:string" use="required"/>
  </xs:complexType>

  <xs:simpleType name="FileVersion">
    <xs:union>
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:pattern value="[0-9]{1,5}(\\.[0-9]{1,5}){3}"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:enumeration value="*"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:union>
  </xs:simpleType>

  <xs:complexType name="PathCondition">
    <xs:attribute name="Path" use="required">
      <xs:simpleType>
        <xs:restriction base="xs:string">
          <xs:minLength value="1"/>
          <xs:maxLength value="32767"/>
        </xs:restriction>
      </xs:simpleType>
    </xs:attribute>
  </xs:complexType>

  <xs:complexType name="HashCondition">
    <xs:sequence>
      <xs:element name="FileHash" maxOccurs="unbounded">
        <xs:complexType>
          <xs:attribute name="Type" use="required">
            <xs:simpleType>
              <xs:restriction base="xs:string">
                <xs:enumeration value="SHA256"/>
                <xs:enumeration value="SHA256Flat"/>
                <xs:enumeration value="SHA1"/>
              </xs:restriction>
            </xs:simpleType>
          </xs:attribute>
          <xs:attribute name="Data" use="required">
            <xs:simpleType>
              <xs:restriction base="xs:string">
                <xs:pattern value="0x([0-9A-Fa-f]{64}|[0-9A-Fa-f]{40})"/>
              </xs:restriction>
            </xs:simpleType>
          </xs:attribute>
          <xs:attribute name="SourceFileName" type="xs:string" use="optional"/>
          <xs:attribute name="SourceFileLength" type="xs:nonNegativeInteger" use="optional"/>
        </xs:complexType>
      </xs:element>
    </xs:sequence>
  </xs:complexType>

  <!-- Extensions (Windows 10 and later): kept as Microsoft's schema has them. -->
  <xs:complexType name="PolicyExtensions">
    <xs:sequence>
      <xs:element name="ThresholdExtensions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="Plugins" minOccurs="0">
              <xs:complexType>
                <xs:sequence>
                  <xs:element name="Plugin" type="Plugin" minOccurs="0" maxOccurs="unbounded"/>
                </xs:sequence>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence>
  </xs:complexType>

  <xs:complexType name="Plugin">
    <xs:sequence>
      <xs:element name="ExecutionCategories">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="ExecutionCategory" maxOccurs="unbounded">
              <xs:complexType>
                <xs:sequence>
                  <xs:element name="Policies" minOccurs="0">
                    <xs:complexType>
                      <xs:sequence>
                        <xs:element name="Policy" minOccurs="0" maxOccurs="unbounded">
                          <xs:complexType>
                            <xs:attribute name="Id" type="Guid"/>
                          </xs:complexType>
                        </xs:element>
                      </xs:sequence>
                    </xs:complexType>
                  </xs:element>
                </xs:sequence>
                <xs:attribute name="Id" type="Guid"/>
                <xs:attribute name="AppidTypes" use="optional">
                  <xs:simpleType>
                    <xs:list>
                      <xs:simpleType>
                        <xs:restriction base="xs:string">
                          <xs:enumeration value="Hash"/>
                          <xs:enumeration value="Path"/>
                          <xs:enumeration value="Publisher"/>
                        </xs:restriction>
                      </xs:simpleType>
                    </xs:list>
                  </xs:simpleType>
                </xs:attribute>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:sequence>
    <xs:attribute name="Name" type="xs:string"/>
    <xs:attribute name="Id" type="Guid"/>
  </xs:complexType>

  <!-- Both ThresholdExtensions and RedstoneExtensions are required when the element is present,
       as in Microsoft's schema (the explicit elements keep xs:any unambiguous). -->
  <xs:complexType name="CollectionExtensions">
    <xs:sequence>
      <xs:element name="ThresholdExtensions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="Services" minOccurs="0">
              <xs:complexType>
                <xs:attribute name="EnforcementMode" use="required">
                  <xs:simpleType>
                    <xs:restriction base="xs:string">
                      <xs:enumeration value="NotConfigured"/>
                      <xs:enumeration value="Enabled"/>
                      <xs:enumeration value="ServicesOnly"/>
                    </xs:restriction>
                  </xs:simpleType>
                </xs:attribute>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="RedstoneExtensions">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="SystemApps" minOccurs="0">
              <xs:complexType>
                <xs:attribute name="Allow" use="required">
                  <xs:simpleType>
                    <xs:restriction base="xs:string">
                      <xs:enumeration value="Enabled"/>
                      <xs:enumeration value="NotEnabled"/>
                    </xs:restriction>
                  </xs:simpleType>
                </xs:attribute>
              </xs:complexType>
            </xs:element>
            <xs:element name="OriginDataRevocation" minOccurs="0">
              <xs:complexType>
                <xs:attribute name="CurrentOriginDataId" type="xs:unsignedInt" use="required"/>
                <xs:attribute name="TrustedOriginDataId" type="xs:unsignedInt" use="required"/>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence>
  </xs:complexType>

  <!-- Simple types -->
  <xs:simpleType name="Guid">
    <xs:restriction base="xs:string">
      <xs:pattern value="[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"/>
    </xs:restriction>
  </xs:simpleType>

  <xs:simpleType name="Sid">
    <xs:restriction base="xs:string">
      <xs:minLength value="7"/>
      <xs:pattern value="S-1(-[0-9A-Fa-f]+)+"/>
    </xs:restriction>
  </xs:simpleType>
</xs:schema>
"""
