#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only: reads the AppLocker event logs for a time window in one round trip and returns
# the events grouped by event ID, file, signature and user, for the controller-side readiness
# judgement (plugins/module_utils/_applocker_readiness_sources.py, read_probe). Never changes anything.

$spec = @{
    options = @{
        start_time = @{ type = 'str'; required = $true }
        end_time = @{ type = 'str'; required = $true }
        event_ids = @{ type = 'list'; elements = 'int'; default = @(8003, 8006, 8021, 8024) }
        max_events = @{ type = 'int'; default = 100000 }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$invariant = [System.Globalization.CultureInfo]::InvariantCulture
$styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
$timeFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"

# Channel -> the event IDs AppLocker writes there (allowed, would have been blocked, blocked).
$channels = [ordered]@{
    'Microsoft-Windows-AppLocker/EXE and DLL' = @(8002, 8003, 8004)
    'Microsoft-Windows-AppLocker/MSI and Script' = @(8005, 8006, 8007)
    'Microsoft-Windows-AppLocker/Packaged app-Execution' = @(8020, 8021, 8022)
    'Microsoft-Windows-AppLocker/Packaged app-Deployment' = @(8023, 8024, 8025)
}
$fields = @('PolicyName', 'FilePath', 'FullFilePath', 'Package', 'FileHash', 'Fqbn', 'TargetUser')

function ConvertTo-UtcTime {
    param([string]$Text, [string]$Name)
    $parsed = [DateTime]::MinValue
    if (-not [DateTime]::TryParse($Text, $invariant, $styles, [ref]$parsed)) {
        $module.FailJson("$Name '$Text' is not an ISO 8601 time such as 2026-11-01T00:00:00Z")
    }
    return $parsed
}

function Format-UtcTime {
    param([DateTime]$Time)
    return $Time.ToUniversalTime().ToString($timeFormat, $invariant)
}

function Get-EventOrNone {
    # Get-WinEvent fails with NoMatchingEventsFound when a filter matches nothing: that is an
    # empty answer, not an error.
    param([hashtable]$Filter, [int]$MaxEvents, [switch]$Oldest)
    try {
        if ($Oldest) {
            return @(Get-WinEvent -LogName $Filter.LogName -Oldest -MaxEvents $MaxEvents -ErrorAction Stop)
        }
        return @(Get-WinEvent -FilterHashtable $Filter -MaxEvents $MaxEvents -ErrorAction Stop)
    }
    catch {
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') {
            return @()
        }
        throw
    }
}

function Get-DataValue {
    param($Data, [string]$Name)
    if ($null -eq $Data) {
        return $null
    }
    $node = $Data.SelectSingleNode("*[local-name()='$Name']")
    if ($null -eq $node) {
        return $null
    }
    $text = [string]$node.InnerText
    if ($text -eq '' -or $text -eq '-') {
        return $null
    }
    return $text
}

$start = ConvertTo-UtcTime -Text $module.Params.start_time -Name 'start_time'
$end = ConvertTo-UtcTime -Text $module.Params.end_time -Name 'end_time'
if ($start -ge $end) {
    $module.FailJson("start_time $($module.Params.start_time) is not before end_time $($module.Params.end_time)")
}
if ($module.Params.max_events -lt 1) {
    $module.FailJson("max_events $($module.Params.max_events) must be 1 or more")
}

$groups = [ordered]@{}
$channelResults = [System.Collections.ArrayList]::new()
$read = 0
$truncated = $false

foreach ($channel in $channels.Keys) {
    $result = [ordered]@{
        channel = $channel
        exists = $false
        enabled = $null
        latest = $null
        oldest = $null
        error = $null
    }
    try {
        $config = [System.Diagnostics.Eventing.Reader.EventLogConfiguration]::new($channel)
        $result.exists = $true
        $result.enabled = [bool]$config.IsEnabled
    }
    catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) {
            $inner = $inner.InnerException
        }
        if ($inner -isnot [System.Diagnostics.Eventing.Reader.EventLogNotFoundException]) {
            $result.error = "cannot read the log's configuration: $($inner.Message)"
        }
    }
    if (-not $result.exists -or $null -ne $result.error) {
        [void]$channelResults.Add($result)
        continue
    }
    try {
        $window = @{ LogName = $channel; StartTime = $start; EndTime = $end }
        $newest = Get-EventOrNone -Filter $window -MaxEvents 1
        if ($newest.Count -gt 0) {
            $result.latest = Format-UtcTime -Time $newest[0].TimeCreated
        }
        $oldestRecord = Get-EventOrNone -Filter @{ LogName = $channel } -MaxEvents 1 -Oldest
        if ($oldestRecord.Count -gt 0) {
            $result.oldest = Format-UtcTime -Time $oldestRecord[0].TimeCreated
        }
        $ids = @($channels[$channel] | Where-Object { $module.Params.event_ids -contains $_ })
        if ($ids.Count -gt 0 -and -not $truncated) {
            $filter = @{ LogName = $channel; Id = $ids; StartTime = $start; EndTime = $end }
            $remaining = $module.Params.max_events - $read
            $records = Get-EventOrNone -Filter $filter -MaxEvents ($remaining + 1)
            if ($records.Count -gt $remaining) {
                $truncated = $true
                if ($remaining -gt 0) {
                    $records = $records[0..($remaining - 1)]
                }
                else {
                    $records = @()
                }
            }
            foreach ($record in $records) {
                $read++
                $xml = [xml]$record.ToXml()
                $data = $xml.DocumentElement.SelectSingleNode("*[local-name()='UserData']/*")
                $values = [ordered]@{}
                foreach ($name in $fields) {
                    $values[$name] = Get-DataValue -Data $data -Name $name
                }
                $when = $record.TimeCreated.ToUniversalTime()
                $key = '{0}|{1}' -f $record.Id, (($fields | ForEach-Object { $values[$_] }) -join '|')
                # Index syntax throughout: on a dictionary, .count would be the number of keys.
                if ($groups.Contains($key)) {
                    $group = $groups[$key]
                    $group['count'] = $group['count'] + 1
                    if ($when -lt $group['first_time']) {
                        $group['first_time'] = $when
                    }
                    if ($when -gt $group['last_time']) {
                        $group['last_time'] = $when
                    }
                }
                else {
                    $groups[$key] = [ordered]@{
                        event_id = [int]$record.Id
                        policy = $values.PolicyName
                        file_path = $values.FilePath
                        full_file_path = $values.FullFilePath
                        package = $values.Package
                        file_hash = $values.FileHash
                        fqbn = $values.Fqbn
                        user = $values.TargetUser
                        count = 1
                        first_time = $when
                        last_time = $when
                    }
                }
            }
        }
    }
    catch {
        $result.error = "cannot read the log: $($_.Exception.Message)"
    }
    [void]$channelResults.Add($result)
}

$groupList = [System.Collections.ArrayList]::new()
foreach ($group in $groups.Values) {
    $group['first'] = Format-UtcTime -Time $group['first_time']
    $group['last'] = Format-UtcTime -Time $group['last_time']
    $group.Remove('first_time')
    $group.Remove('last_time')
    [void]$groupList.Add($group)
}

$module.Result.probe = @{
    concern = 'applocker_events'
    probe_version = 1
    host = @{ computer_name = [string]$env:COMPUTERNAME }
    window = @{ start = (Format-UtcTime -Time $start); end = (Format-UtcTime -Time $end) }
    channels = @($channelResults)
    groups = @($groupList)
    events_read = $read
    truncated = $truncated
}
$module.Result.changed = $false
$module.ExitJson()
