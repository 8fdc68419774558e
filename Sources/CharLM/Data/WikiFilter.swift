import Engine
import NN
import Runs
import Foundation

/// Matt Mahoney's wikifil.pl, the filter that made text8 out of enwik9, ported rule for rule.
///
/// The Perl script reads records ending in '>' and, inside `<text ...>` ... `</text>` (except #REDIRECT pages),
/// removes markup with a fixed list of substitutions, spells digits, lowercases, and maps every other character
/// to a single space. Perl works on bytes here, so the port decodes the input as Latin-1 (one character per
/// byte) and uses ICU regular expressions with Unix line semantics (`.` excludes only "\n"), which is what the
/// Perl patterns assume. `clean` reproduces the script's output byte for byte (tested on the real first 1 MB of
/// enwik8, which must become the first 703,856 characters of text8).
public struct WikiFilter {
    private struct Rule {
        let regex: NSRegularExpression
        let template: String
        let global: Bool
    }

    private let rules: [Rule]
    private let textStart = "<text "
    private let redirect: NSRegularExpression

    public init() {
        func rule(_ pattern: String, _ template: String, caseInsensitive: Bool = false, global: Bool = true) -> Rule {
            var options: NSRegularExpression.Options = [.useUnixLineSeparators]
            if caseInsensitive { options.insert(.caseInsensitive) }
            return Rule(regex: try! NSRegularExpression(pattern: pattern, options: options), template: template, global: global)
        }
        // The substitutions of wikifil.pl, in its order (Perl source in the comment after each).
        rules = [
            rule("<.*>", "", global: false),                                   // s/<.*>//;
            rule("&amp;", "&"),                                                // s/&amp;/&/g;
            rule("&lt;", "<"),                                                 // s/&lt;/</g;
            rule("&gt;", ">"),                                                 // s/&gt;/>/g;
            rule("<ref[^<]*</ref>", ""),                                       // s/<ref[^<]*<\/ref>//g;
            rule("<[^>]*>", ""),                                               // s/<[^>]*>//g;
            rule("\\[http:[^\\] ]*", "["),                                     // s/\[http:[^] ]*/[/g;
            rule("\\|thumb", "", caseInsensitive: true),                       // s/\|thumb//ig;
            rule("\\|left", "", caseInsensitive: true),                        // s/\|left//ig;
            rule("\\|right", "", caseInsensitive: true),                       // s/\|right//ig;
            rule("\\|[0-9]+px", "", caseInsensitive: true),                    // s/\|\d+px//ig;
            rule("\\[\\[image:[^\\[\\]]*\\|", "", caseInsensitive: true),      // s/\[\[image:[^\[\]]*\|//ig;
            rule("\\[\\[category:([^|\\]]*)[^\\]]*\\]\\]", "[[$1]]", caseInsensitive: true),  // s/\[\[category:([^|\]]*)[^]]*\]\]/[[$1]]/ig;
            rule("\\[\\[[a-z\\-]*:[^\\]]*\\]\\]", ""),                         // s/\[\[[a-z\-]*:[^\]]*\]\]//g;
            rule("\\[\\[[^\\|\\]]*\\|", "[["),                                 // s/\[\[[^\|\]]*\|/[[/g;
            rule("\\{\\{[^}]*\\}\\}", ""),                                     // s/{{[^}]*}}//g;
            rule("\\{[^}]*\\}", ""),                                           // s/{[^}]*}//g;
            rule("\\[", ""),                                                   // s/\[//g;
            rule("\\]", ""),                                                   // s/\]//g;
            rule("&[^;]*;", " "),                                              // s/&[^;]*;/ /g;
        ]
        redirect = try! NSRegularExpression(pattern: "#redirect", options: [.caseInsensitive])
    }

    /// Filters a whole Wikipedia XML dump (bytes) into text8-style text.
    public func clean(_ xml: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(xml.count * 3 / 4)
        var inText = false
        var start = 0
        while start < xml.count {
            // A record runs to and including the next '>' (Perl's $/ = ">").
            var end = start
            while end < xml.count && xml[end] != UInt8(ascii: ">") { end += 1 }
            end = min(end + 1, xml.count)
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: xml[start..<end].map { Unicode.Scalar($0) })  // Latin-1: one character per byte
            let record = String(scalars)
            start = end
            if record.contains(textStart) { inText = true }
            let ns = record as NSString
            if redirect.firstMatch(in: record, range: NSRange(location: 0, length: ns.length)) != nil { inText = false }
            guard inText else { continue }
            if record.contains("</text>") { inText = false }
            var s = record
            for r in rules {
                let range = NSRange(location: 0, length: (s as NSString).length)
                if r.global {
                    s = r.regex.stringByReplacingMatches(in: s, range: range, withTemplate: r.template)
                } else if let m = r.regex.firstMatch(in: s, range: range) {
                    s = (s as NSString).replacingCharacters(in: m.range, with: r.regex.replacementString(for: m, in: s, offset: 0, template: r.template))
                }
            }
            appendLettersAndSpaces(s, to: &out)
        }
        return out
    }

    /// `$_=" $_ "; tr/A-Z/a-z/; s/0/ zero /g; ... tr/a-z/ /cs; chop; print $_;`
    private func appendLettersAndSpaces(_ s: String, to out: inout [UInt8]) {
        let digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"].map { Array($0.utf8) }
        var line: [UInt8] = [32]
        var lastWasSpace = true
        func space() { if !lastWasSpace { line.append(32); lastWasSpace = true } }
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if v >= 65 && v <= 90 {
                line.append(UInt8(v + 32)); lastWasSpace = false
            } else if v >= 97 && v <= 122 {
                line.append(UInt8(v)); lastWasSpace = false
            } else if v >= 48 && v <= 57 {
                space()
                line += digits[Int(v - 48)]
                lastWasSpace = false
                space()
            } else {
                space()
            }
        }
        space()
        line.removeLast()  // chop: the trailing space
        out += line
    }
}

