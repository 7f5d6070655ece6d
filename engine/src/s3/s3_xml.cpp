#include "s3/s3_xml.hpp"

#include <tinyxml2.h>

#include <charconv>

namespace pgexport::engine::detail {

namespace {

// The document's root element when it parses and is named `name`.
const tinyxml2::XMLElement* root_named(tinyxml2::XMLDocument& doc, std::string_view body, const char* name) {
    if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS)
        return nullptr;
    const auto* root = doc.RootElement();
    if (!root || std::string_view(root->Name()) != name)
        return nullptr;
    return root;
}

std::string text_of(const tinyxml2::XMLElement* parent, const char* child) {
    const auto* e = parent->FirstChildElement(child);
    const char* text = e ? e->GetText() : nullptr;
    return text ? text : "";
}

template <class Int> std::optional<Int> number_of(const tinyxml2::XMLElement* parent, const char* child) {
    const std::string text = text_of(parent, child);
    Int value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
        return std::nullopt;
    return value;
}

} // namespace

std::optional<s3_error_body> parse_s3_error(std::string_view body) {
    tinyxml2::XMLDocument doc;
    const auto* root = root_named(doc, body, "Error");
    if (!root)
        return std::nullopt;
    return s3_error_body{text_of(root, "Code"), text_of(root, "Message")};
}

std::optional<std::string> parse_upload_id(std::string_view body) {
    tinyxml2::XMLDocument doc;
    const auto* root = root_named(doc, body, "InitiateMultipartUploadResult");
    if (!root)
        return std::nullopt;
    std::string id = text_of(root, "UploadId");
    if (id.empty())
        return std::nullopt;
    return id;
}

std::optional<listed_parts> parse_list_parts(std::string_view body) {
    tinyxml2::XMLDocument doc;
    const auto* root = root_named(doc, body, "ListPartsResult");
    if (!root)
        return std::nullopt;
    listed_parts out;
    out.truncated = text_of(root, "IsTruncated") == "true";
    for (const auto* p = root->FirstChildElement("Part"); p; p = p->NextSiblingElement("Part")) {
        const auto number = number_of<int>(p, "PartNumber");
        const auto size = number_of<std::int64_t>(p, "Size");
        if (!number || !size)
            return std::nullopt;
        out.parts.push_back({*number, text_of(p, "ETag"), *size});
    }
    return out;
}

std::string complete_upload_body(const std::vector<uploaded_part>& parts) {
    tinyxml2::XMLPrinter printer(nullptr, true); // compact: no indentation
    printer.OpenElement("CompleteMultipartUpload", true);
    printer.PushAttribute("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/");
    for (const auto& p : parts) {
        printer.OpenElement("Part", true);
        printer.OpenElement("PartNumber", true);
        printer.PushText(p.number);
        printer.CloseElement(true);
        printer.OpenElement("ETag", true);
        printer.PushText(p.etag.c_str());
        printer.CloseElement(true);
        printer.CloseElement(true);
    }
    printer.CloseElement(true);
    return std::string(printer.CStr(), static_cast<std::size_t>(printer.CStrSize() - 1));
}

} // namespace pgexport::engine::detail
